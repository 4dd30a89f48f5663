"""Which record field a file's column fills: the fields an import can fill, and suggestions from
the column headers people actually write (English, Chinese, Google Contacts, Outlook, vCard).

A header is compared after folding case, width and punctuation (`E-mail 1 - Value` → `email1value`),
so `Email`, `E-mail Address`, `邮箱` and `电子邮件` all land on the same field.
"""

import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.core.models import AttributeDefinition


@dataclass(frozen=True)
class Field:
    key: str
    label: object  # a lazy translation
    aliases: tuple[str, ...] = ()


PEOPLE = "person"
ACCOUNTS = "account"
ORDERS = "order"
TARGETS = (PEOPLE, ACCOUNTS, ORDERS)

_PERSON_FIELDS = (
    Field(
        "full_name",
        gettext_lazy("Name (family and given)"),
        ("name", "full name", "fullname", "display name", "contact name", "contact", "姓名", "名字", "联系人",
         "联系人姓名", "客户姓名", "全名"),
    ),
    Field(
        "family_name",
        gettext_lazy("Family name"),
        ("family name", "last name", "lastname", "surname", "family", "姓", "姓氏", "family name yomi"),
    ),
    Field(
        "given_name",
        gettext_lazy("Given name"),
        ("given name", "first name", "firstname", "forename", "given", "名"),
    ),
    Field(
        "email",
        gettext_lazy("E-mail"),
        ("email", "e-mail", "email address", "e-mail address", "mail", "e-mail 1 - value", "email 1 - value",
         "邮箱", "电子邮件", "电子邮箱", "邮件", "邮箱地址", "电子邮件地址", "e-mail (work)", "work email"),
    ),
    Field(
        "email_2",
        gettext_lazy("E-mail 2"),
        ("email 2", "e-mail 2", "e-mail 2 address", "email 2 address", "e-mail 2 - value", "email 2 - value",
         "邮箱2", "电子邮件2", "备用邮箱", "personal email", "home email"),
    ),
    Field(
        "email_3",
        gettext_lazy("E-mail 3"),
        ("email 3", "e-mail 3", "e-mail 3 address", "email 3 address", "e-mail 3 - value", "邮箱3", "电子邮件3"),
    ),
    Field(
        "mobile",
        gettext_lazy("Mobile"),
        ("mobile", "mobile phone", "cell", "cell phone", "cellphone", "mobile number", "phone 1 - value",
         "手机", "手机号", "手机号码", "移动电话"),
    ),
    Field(
        "phone",
        gettext_lazy("Phone"),
        ("phone", "telephone", "tel", "phone number", "business phone", "work phone", "phone 2 - value",
         "电话", "电话号码", "联系电话", "办公电话", "座机", "固定电话", "工作电话", "company main phone"),
    ),
    Field(
        "home_phone",
        gettext_lazy("Home phone"),
        ("home phone", "private phone", "phone 3 - value", "家庭电话", "住宅电话"),
    ),
    Field("other_phone", gettext_lazy("Other phone"), ("other phone", "phone 2", "phone 4 - value", "其他电话")),
    Field("birthday", gettext_lazy("Birthday"), ("birthday", "birth date", "date of birth", "dob", "生日",
                                                  "出生日期", "出生年月日")),
    Field("company", gettext_lazy("Company (account)"), ("company", "organisation", "organization",
                                                        "organization 1 - name", "organization name", "account",
                                                        "employer", "公司", "公司名称", "单位", "工作单位", "企业",
                                                        "企业名称", "所属公司", "客户名称")),
    Field("job_title", gettext_lazy("Job title"), ("job title", "position", "organization 1 - title",
                                                  "organization title", "职位", "职务", "头衔", "岗位")),
    Field("notes", gettext_lazy("Notes"), ("notes", "note", "comments", "comment", "remarks", "description",
                                          "备注", "说明", "描述", "备注信息")),
    Field("tags", gettext_lazy("Tags"), ("tags", "tag", "labels", "groups", "group membership", "categories",
                                        "标签", "分组", "分类")),
    Field("owner", gettext_lazy("Owner"), ("owner", "account owner", "assigned to", "sales rep", "负责人", "所有者",
                                          "跟进人", "归属人")),
    Field("lifecycle_stage", gettext_lazy("Lifecycle stage"), ("lifecycle stage", "stage", "status",
                                                              "生命周期阶段", "阶段", "客户阶段")),
    Field("source", gettext_lazy("Source"), ("source", "lead source", "来源", "客户来源")),
    Field("preferred_language", gettext_lazy("Preferred language"), ("language", "preferred language", "语言",
                                                                      "首选语言")),
    Field("preferred_channel", gettext_lazy("Preferred channel"), ("preferred channel", "channel", "首选渠道",
                                                                    "渠道")),
    Field("preferences", gettext_lazy("What they prefer"), ("preferences", "偏好", "喜好")),
    Field("buying_motives", gettext_lazy("Why they buy"), ("buying motives", "motives", "购买动机")),
)  # fmt: skip

_ACCOUNT_FIELDS = (
    Field("name", gettext_lazy("Name"), ("name", "account name", "company", "company name", "organisation",
                                        "organization", "organization name", "customer", "customer name",
                                        "名称", "客户名称", "公司", "公司名称", "企业名称", "单位名称", "客户")),
    Field("kind", gettext_lazy("Kind"), ("kind", "type", "account type", "客户类型", "类型")),
    Field("organisation_type", gettext_lazy("Organisation type"), ("organisation type", "organization type",
                                                                  "机构类型", "组织类型")),
    Field("industry", gettext_lazy("Industry"), ("industry", "sector", "行业", "所属行业")),
    Field("market_segment", gettext_lazy("Market segment"), ("market segment", "segment", "市场细分", "细分市场")),
    Field("grade", gettext_lazy("Grade"), ("grade", "tier", "rating", "客户级别", "级别", "等级")),
    Field("website", gettext_lazy("Website"), ("website", "web site", "web page", "url", "homepage", "domain",
                                              "网站", "官网", "网址", "公司网站")),
    Field("registration_number", gettext_lazy("Registration number"), ("registration number", "company number",
                                                                      "registration no", "tax id", "vat number",
                                                                      "统一社会信用代码", "信用代码", "注册号",
                                                                      "工商注册号", "税号")),
    Field("phone", gettext_lazy("Phone"), ("phone", "telephone", "tel", "phone number", "main phone",
                                          "company main phone", "business phone", "电话", "联系电话", "公司电话",
                                          "电话号码", "座机")),
    Field("status", gettext_lazy("Status"), ("status", "account status", "状态")),
    Field("source", gettext_lazy("Source"), ("source", "lead source", "来源", "客户来源")),
    Field("owner", gettext_lazy("Owner"), ("owner", "account owner", "assigned to", "sales rep", "负责人", "所有者",
                                          "跟进人", "归属人")),
    Field("lifecycle_stage", gettext_lazy("Lifecycle stage"), ("lifecycle stage", "stage", "生命周期阶段", "阶段",
                                                              "客户阶段")),
    Field("notes", gettext_lazy("Notes"), ("notes", "note", "comments", "description", "备注", "说明", "描述")),
    Field("tags", gettext_lazy("Tags"), ("tags", "tag", "labels", "categories", "标签", "分类")),
    Field("address", gettext_lazy("Address"), ("address", "street", "street address", "business street",
                                              "address line 1", "地址", "详细地址", "公司地址", "办公地址", "街道")),
    Field("city", gettext_lazy("City"), ("city", "town", "business city", "城市", "市")),
    Field("region", gettext_lazy("Province / state"), ("province", "state", "region", "county", "business state",
                                                      "省", "省份", "地区", "省/直辖市")),
    Field("postal_code", gettext_lazy("Postal code"), ("postal code", "postcode", "zip", "zip code",
                                                      "business postal code", "邮编", "邮政编码")),
    Field("country", gettext_lazy("Country"), ("country", "country code", "business country/region",
                                              "country/region", "国家", "国家/地区")),
)  # fmt: skip

# One file row is one order line. Every field but the line's own (SKU, description, quantity, unit
# price, line discount, user) belongs to the order: its rows must agree on it, and the first row
# that fills one sets it (see `services/importing_orders.py`).
_ORDER_FIELDS = (
    Field("external_id", gettext_lazy("Order reference"), ("order reference", "reference", "order id", "order no",
                                                            "order number", "order", "external id", "订单号",
                                                            "订单编号", "订单ID", "外部订单号", "平台订单号", "单号",
                                                            "订单参考号")),
    Field("ordered_at", gettext_lazy("Ordered at"), ("ordered at", "order date", "order time", "date", "purchase date",
                                                    "created at", "下单时间", "下单日期", "订单日期", "订单时间",
                                                    "成交时间", "购买日期", "日期", "创建时间")),
    Field("buyer", gettext_lazy("Buyer (name, e-mail or phone)"), ("buyer", "customer", "customer name", "account",
                                                                    "purchaser", "bill to", "采购人", "购买人", "买家",
                                                                    "客户", "客户名称", "购买方", "下单人",
                                                                    "买家会员名")),
    Field("buyer_email", gettext_lazy("Buyer e-mail"), ("buyer email", "buyer e-mail", "customer email", "email",
                                                        "e-mail", "购买人邮箱", "买家邮箱", "客户邮箱", "邮箱")),
    Field("buyer_phone", gettext_lazy("Buyer phone"), ("buyer phone", "customer phone", "phone", "mobile",
                                                      "购买人电话", "买家电话", "客户电话", "买家手机", "手机",
                                                      "手机号", "联系电话", "电话")),
    Field("buyer_account_id", gettext_lazy("Buyer account ID"), ("buyer account id", "account id", "企业客户ID",
                                                                "购买人企业客户ID")),
    Field("buyer_person_id", gettext_lazy("Buyer contact ID"), ("buyer contact id", "buyer person id", "contact id",
                                                               "person id", "联系人ID", "购买人联系人ID")),
    Field("sku", gettext_lazy("Product SKU"), ("sku", "product sku", "product code", "item code", "商品编码",
                                              "产品编码", "产品SKU", "货号", "SKU编码", "商家编码", "产品编号")),
    Field("description", gettext_lazy("Description"), ("description", "product", "product name", "item", "item name",
                                                      "商品名称", "产品名称", "商品", "产品", "品名", "描述", "说明")),
    Field("quantity", gettext_lazy("Quantity"), ("quantity", "qty", "数量", "购买数量", "件数")),
    Field("unit_price", gettext_lazy("Unit price"), ("unit price", "price", "单价", "价格", "商品单价", "销售单价")),
    Field("discount", gettext_lazy("Line discount"), ("line discount", "discount", "discount amount", "折扣",
                                                     "优惠", "折扣金额", "优惠金额", "行折扣")),
    Field("user", gettext_lazy("User (e-mail, phone or name)"), ("user", "recipient", "end user", "used by",
                                                                "consignee", "使用人", "收货人", "使用者",
                                                                "收货人手机", "收货人电话")),
    Field("user_person_id", gettext_lazy("User contact ID"), ("user contact id", "user person id", "recipient id",
                                                             "使用人ID", "使用人联系人ID")),
    Field("currency", gettext_lazy("Currency"), ("currency", "币种", "货币")),
    Field("channel", gettext_lazy("Channel"), ("channel", "sales channel", "渠道", "销售渠道")),
    Field("status", gettext_lazy("Status"), ("status", "order status", "状态", "订单状态")),
    Field("paid_amount", gettext_lazy("Paid amount"), ("paid amount", "paid", "amount paid", "payment", "实付",
                                                      "实付金额", "已付金额", "付款金额", "回款金额", "回款",
                                                      "已收金额", "已收", "已付")),
    Field("payment_method", gettext_lazy("Payment method"), ("payment method", "paid by", "payment type", "支付方式",
                                                            "付款方式", "回款方式")),
    Field("note", gettext_lazy("Order note"), ("order note", "note", "notes", "comment", "remarks", "备注",
                                              "订单备注", "买家留言")),
)  # fmt: skip

BUYER_FIELDS = ("buyer_account_id", "buyer_person_id", "buyer_email", "buyer_phone", "buyer")
ATTRIBUTE_PREFIX = "attr:"
REQUIRED_ANY = {
    PEOPLE: ("full_name", "family_name", "given_name"),
    ACCOUNTS: ("name",),
    ORDERS: ("external_id",),
}


def base_fields(target: str) -> tuple[Field, ...]:
    if target == ORDERS:
        return _ORDER_FIELDS
    return _PERSON_FIELDS if target == PEOPLE else _ACCOUNT_FIELDS


def fold(header: str) -> str:
    """`E-mail 1 - Value` → `email1value`; `手机号码：` → `手机号码`; full width folded to half."""
    text = unicodedata.normalize("NFKC", header).casefold()
    text = re.sub(r"\(.*?\)|（.*?）|\*", " ", text) if not re.fullmatch(r"\s*\(.*\)\s*", text) else text
    return re.sub(r"[\W_]+", "", text)


def attribute_definitions(target: str) -> list[AttributeDefinition]:
    if target == ORDERS:
        return []  # custom attributes are kept on customers, not on orders
    return list(AttributeDefinition.objects.filter(target=target).order_by("position", "key"))


def importable_fields(target: str) -> list[tuple[str, str]]:
    """(field key, label) of every field a column can fill, custom attributes as `attr:<key>`."""
    fields = [(f.key, str(f.label)) for f in base_fields(target)]
    fields += [
        (ATTRIBUTE_PREFIX + d.key, _("Custom attribute: %(label)s") % {"label": d.label})
        for d in attribute_definitions(target)
    ]
    return fields


def _alias_index(target: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for field in base_fields(target):
        for alias in (field.key, str(field.label), *field.aliases):
            index.setdefault(fold(alias), field.key)
    for definition in attribute_definitions(target):
        for alias in (definition.key, definition.label):
            index.setdefault(fold(alias), ATTRIBUTE_PREFIX + definition.key)
    return index


def suggest_mapping(target: str, columns: list[str]) -> dict[str, str]:
    """column → field key, "" where nothing fits; a field is suggested for its first column only.

    A file may map both a whole-name column and family/given columns (Google does): each row
    uses the parts when it has them and splits the whole name otherwise.
    """
    index = _alias_index(target)
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for column in columns:
        key = index.get(fold(column), "")
        if key and key not in used:
            mapping[column] = key
            used.add(key)
        else:
            mapping[column] = ""
    return mapping
