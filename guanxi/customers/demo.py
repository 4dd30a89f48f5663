"""Demo data: realistic English and Chinese customer records, generated and loaded fast.

Rows are computed in Python as plain tuples (accounts and people get explicit primary keys, so
their dependants can point at them before anything is written) and written with the database
driver's `executemany`, one transaction per chunk. No model instance is built per row and no
service is called per row, so the load runs near the speed of the driver itself
(`benchmarks/bench_demo_load.py` measures how near).

What the services would add to each record is added here too, the same way: a `LifecycleChange`
for the first stage and the `SearchTerm` keys, built by `services.account_search_terms` and
`services.person_search_terms`. Field-level history (`ChangeRecord`) is *not* written: demo rows
have no "created" event.

Contact details are shaped like real ones: phone numbers are valid E.164 numbers (which may
belong to someone; never send SMS to demo data), e-mail addresses use the reserved `.example`
top-level domain and `example.com`/`.net`/`.org` (RFC 2606), so no demo address can reach a
mailbox.
"""

import datetime
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import phonenumbers
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.fields import AutoFieldMixin

from guanxi.core.db import server_binding_cursor
from guanxi.core.models import AttributeDefinition, AttributeType, Tag
from guanxi.customers.models import (
    Account,
    AccountKind,
    AccountStatus,
    Address,
    Channel,
    ConsentPurpose,
    ConsentRecord,
    EmailAddress,
    Grade,
    LifecycleChange,
    LifecycleStage,
    MarketSegment,
    OrganisationType,
    Person,
    PhoneNumber,
    Relationship,
    RelationshipKind,
    Role,
    RoleKind,
    SearchTerm,
    Source,
)
from guanxi.customers.normalise import domain_of, full_name
from guanxi.customers.services import account_search_terms, person_search_terms
from guanxi.staff.models import StaffRole, Team, User

DEMO_PASSWORD = "guanxi-demo"  # noqa: S105  -- the published demo login
DEMO_REASON = "demo data"
ACCOUNT_CHUNK = 2_000
PERSON_CHUNK = 5_000


@dataclass(frozen=True)
class DemoSize:
    accounts: int
    people: int
    extra_reps: int  # reps beyond rep1..rep3, spread over the teams
    duplicate_share: float = 0.01  # people entered twice (a near-copy), for the duplicates view


SIZES = {
    "small": DemoSize(accounts=300, people=3_000, extra_reps=0),
    "large": DemoSize(accounts=100_000, people=1_000_000, extra_reps=17),
}

# ---------------------------------------------------------------------------------------------
# Word lists. Chinese entries carry their pinyin for domains and e-mail local parts.

# Common surnames, most frequent first (weights fall off with rank), then two-character ones.
CN_SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
    ("唐", "tang"), ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("袁", "yuan"),
    ("潘", "pan"), ("于", "yu"), ("蒋", "jiang"), ("蔡", "cai"), ("余", "yu"), ("杜", "du"),
    ("叶", "ye"), ("程", "cheng"), ("苏", "su"), ("魏", "wei"), ("吕", "lv"), ("丁", "ding"),
    ("任", "ren"), ("沈", "shen"), ("姚", "yao"), ("卢", "lu"), ("姜", "jiang"), ("崔", "cui"),
    ("钟", "zhong"), ("谭", "tan"), ("陆", "lu"), ("汪", "wang"), ("范", "fan"), ("金", "jin"),
    ("石", "shi"), ("廖", "liao"), ("贾", "jia"), ("夏", "xia"), ("韦", "wei"), ("付", "fu"),
    ("方", "fang"), ("白", "bai"), ("邹", "zou"), ("孟", "meng"), ("熊", "xiong"), ("秦", "qin"),
    ("邱", "qiu"), ("江", "jiang"), ("尹", "yin"), ("薛", "xue"), ("闫", "yan"), ("段", "duan"),
    ("雷", "lei"), ("侯", "hou"), ("龙", "long"), ("史", "shi"), ("陶", "tao"), ("黎", "li"),
    ("贺", "he"), ("顾", "gu"), ("毛", "mao"), ("郝", "hao"), ("龚", "gong"), ("邵", "shao"),
    ("万", "wan"), ("钱", "qian"), ("严", "yan"), ("武", "wu"), ("戴", "dai"), ("莫", "mo"),
    ("孔", "kong"), ("向", "xiang"), ("汤", "tang"), ("常", "chang"),
)  # fmt: skip
CN_COMPOUND_SURNAMES: tuple[tuple[str, str], ...] = (
    ("欧阳", "ouyang"), ("诸葛", "zhuge"), ("司马", "sima"), ("上官", "shangguan"), ("东方", "dongfang"),
    ("皇甫", "huangfu"), ("慕容", "murong"), ("令狐", "linghu"), ("夏侯", "xiahou"), ("尉迟", "yuchi"),
)  # fmt: skip
CN_GIVEN: tuple[tuple[str, str], ...] = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("英", "ying"), ("华", "hua"), ("玉", "yu"),
    ("兰", "lan"), ("萍", "ping"), ("红", "hong"), ("鹏", "peng"), ("飞", "fei"), ("波", "bo"),
    ("辉", "hui"), ("宇", "yu"), ("浩", "hao"), ("然", "ran"), ("婷", "ting"), ("雪", "xue"),
    ("梅", "mei"), ("琳", "lin"), ("晨", "chen"), ("欣", "xin"), ("怡", "yi"), ("佳", "jia"),
    ("子", "zi"), ("轩", "xuan"), ("涵", "han"), ("博", "bo"), ("文", "wen"), ("思", "si"),
    ("雨", "yu"), ("俊", "jun"), ("凯", "kai"), ("建", "jian"), ("国", "guo"), ("志", "zhi"),
    ("海", "hai"), ("斌", "bin"), ("毅", "yi"), ("瑶", "yao"), ("倩", "qian"), ("颖", "ying"),
    ("琪", "qi"), ("晓", "xiao"), ("嘉", "jia"), ("昊", "hao"), ("天", "tian"), ("诗", "shi"),
    ("梓", "zi"), ("一", "yi"), ("可", "ke"), ("欢", "huan"), ("悦", "yue"), ("睿", "rui"),
    ("泽", "ze"), ("航", "hang"), ("彤", "tong"), ("蕾", "lei"), ("慧", "hui"), ("春", "chun"),
    ("新", "xin"), ("德", "de"), ("永", "yong"), ("成", "cheng"), ("荣", "rong"), ("东", "dong"),
    ("亮", "liang"), ("龙", "long"), ("小", "xiao"), ("金", "jin"), ("丹", "dan"), ("莉", "li"),
)  # fmt: skip
WESTERN_GIVEN = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
    "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Daniel", "Emma", "Matthew", "Olivia", "Anthony", "Sophie", "Mark", "Emily", "Paul", "Charlotte",
    "Steven", "Hannah", "Andrew", "Grace", "Joshua", "Chloe", "Kevin", "Lucy", "Brian", "Amelia",
    "George", "Isabella", "Oliver", "Mia", "Harry", "Ava", "Jack", "Ella", "Noah", "Laura",
    "Ethan", "Rachel", "Samuel", "Rebecca", "Henry", "Anna", "Peter", "Claire", "Lukas", "Julia",
)  # fmt: skip
WESTERN_FAMILY = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker",
    "Hall", "Allen", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson",
    "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins",
    "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed",
    "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks",
    "Bennett", "Gray", "Hughes", "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "Fischer",
)  # fmt: skip

# Brand words for company names: (Chinese, pinyin) and English.
CN_BRANDS: tuple[tuple[str, str], ...] = (
    ("明远", "mingyuan"), ("华信", "huaxin"), ("恒达", "hengda"), ("鼎盛", "dingsheng"), ("瑞丰", "ruifeng"),
    ("宏图", "hongtu"), ("金桥", "jinqiao"), ("博远", "boyuan"), ("天成", "tiancheng"), ("永安", "yongan"),
    ("信达", "xinda"), ("联创", "lianchuang"), ("中科", "zhongke"), ("海纳", "haina"), ("星辰", "xingchen"),
    ("云帆", "yunfan"), ("启航", "qihang"), ("德润", "derun"), ("嘉禾", "jiahe"), ("万象", "wanxiang"),
    ("凯盛", "kaisheng"), ("锦程", "jincheng"), ("正泰", "zhengtai"), ("华夏", "huaxia"), ("长风", "changfeng"),
    ("东升", "dongsheng"), ("百川", "baichuan"), ("合众", "hezhong"), ("新源", "xinyuan"), ("盛世", "shengshi"),
    ("弘毅", "hongyi"), ("立信", "lixin"), ("安泰", "antai"), ("润华", "runhua"), ("国泰", "guotai"),
    ("腾达", "tengda"), ("远航", "yuanhang"), ("恒通", "hengtong"), ("力帆", "lifan"), ("致远", "zhiyuan"),
)  # fmt: skip
EN_BRANDS = (
    "Northwind", "Bluewater", "Redwood", "Silverline", "Oakridge", "Summit", "Harbor", "Pinecrest", "Ironbridge",
    "Clearview", "Brightstone", "Westfield", "Eastgate", "Kingsley", "Ashford", "Highland", "Lakeside", "Maple",
    "Crescent", "Granite", "Falcon", "Meridian", "Horizon", "Sterling", "Beacon", "Cobalt", "Evergreen",
    "Foxglove", "Juniper", "Larkspur", "Riverside", "Stonegate", "Windmill", "Copperfield", "Blackwood",
)  # fmt: skip


@dataclass(frozen=True)
class Industry:
    zh: str  # stored industry label for Chinese accounts
    en: str  # stored industry label for English accounts
    zh_word: str  # in a Chinese company name
    en_word: str  # in an English company name
    slug: str  # in a domain
    fleet: bool = False  # runs vehicles: the fleet owner buys, the drivers use


INDUSTRIES = (
    Industry("汽车销售", "Car dealership", "汽车销售", "Motors", "auto"),
    Industry("物流运输", "Logistics", "物流", "Logistics", "logistics", fleet=True),
    Industry("出租车运营", "Taxi fleet", "出租汽车", "Cabs", "taxi", fleet=True),
    Industry("医疗器械", "Medical devices", "医疗器械", "Medical", "med"),
    Industry("信息技术", "IT services", "科技", "Systems", "tech"),
    Industry("电子制造", "Electronics", "电子", "Electronics", "elec"),
    Industry("食品饮料", "Food and beverage", "食品", "Foods", "food"),
    Industry("建材", "Building materials", "建材", "Building Supplies", "build"),
    Industry("机械设备", "Machinery", "机械", "Machinery", "mach"),
    Industry("化工", "Chemicals", "化工", "Chemicals", "chem"),
    Industry("批发零售", "Wholesale and retail", "商贸", "Traders", "trade"),
    Industry("文化传媒", "Media", "文化传媒", "Media", "media"),
    Industry("餐饮", "Restaurants", "餐饮管理", "Kitchens", "dining"),
    Industry("服装", "Apparel", "服饰", "Apparel", "fashion"),
    Industry("家居", "Home furnishings", "家居", "Home", "home"),
    Industry("新能源", "Renewable energy", "新能源", "Energy", "energy"),
    Industry("生物医药", "Life sciences", "生物科技", "Biosciences", "bio"),
    Industry("工程建设", "Construction", "建设工程", "Construction", "build"),
    Industry("网约车", "Ride hailing fleet", "出行服务", "Fleet Services", "fleet", fleet=True),
    Industry("农业", "Agriculture", "农业科技", "Farms", "agri"),
)


@dataclass(frozen=True)
class CnCity:
    name: str
    pinyin: str
    region: str
    postal: str  # first three digits of the postal code
    area: str  # trunk code without 0
    districts: tuple[str, ...]


CN_CITIES = (
    CnCity("上海", "shanghai", "上海市", "200", "21", ("浦东新区", "徐汇区", "静安区", "黄浦区", "闵行区")),
    CnCity("北京", "beijing", "北京市", "100", "10", ("朝阳区", "海淀区", "东城区", "西城区", "丰台区")),
    CnCity("深圳", "shenzhen", "广东省", "518", "755", ("南山区", "福田区", "罗湖区", "宝安区", "龙岗区")),
    CnCity("广州", "guangzhou", "广东省", "510", "20", ("天河区", "越秀区", "海珠区", "白云区")),
    CnCity("杭州", "hangzhou", "浙江省", "310", "571", ("西湖区", "滨江区", "上城区", "余杭区")),
    CnCity("苏州", "suzhou", "江苏省", "215", "512", ("工业园区", "姑苏区", "吴中区", "高新区")),
    CnCity("南京", "nanjing", "江苏省", "210", "25", ("鼓楼区", "玄武区", "建邺区", "江宁区")),
    CnCity("成都", "chengdu", "四川省", "610", "28", ("锦江区", "武侯区", "高新区", "青羊区")),
    CnCity("武汉", "wuhan", "湖北省", "430", "27", ("江汉区", "武昌区", "洪山区", "东西湖区")),
    CnCity("天津", "tianjin", "天津市", "300", "22", ("和平区", "河西区", "南开区", "滨海新区")),
    CnCity("重庆", "chongqing", "重庆市", "400", "23", ("渝中区", "江北区", "南岸区", "九龙坡区")),
    CnCity("西安", "xian", "陕西省", "710", "29", ("雁塔区", "碑林区", "未央区", "高新区")),
    CnCity("宁波", "ningbo", "浙江省", "315", "574", ("鄞州区", "海曙区", "江北区", "北仑区")),
    CnCity("青岛", "qingdao", "山东省", "266", "532", ("市南区", "市北区", "崂山区", "黄岛区")),
    CnCity("长沙", "changsha", "湖南省", "410", "731", ("岳麓区", "芙蓉区", "天心区", "开福区")),
    CnCity("郑州", "zhengzhou", "河南省", "450", "371", ("金水区", "中原区", "二七区", "郑东新区")),
    CnCity("合肥", "hefei", "安徽省", "230", "551", ("蜀山区", "包河区", "庐阳区", "瑶海区")),
    CnCity("无锡", "wuxi", "江苏省", "214", "510", ("梁溪区", "滨湖区", "新吴区", "锡山区")),
    CnCity("佛山", "foshan", "广东省", "528", "757", ("禅城区", "南海区", "顺德区")),
    CnCity("东莞", "dongguan", "广东省", "523", "769", ("南城街道", "东城街道", "松山湖", "长安镇")),
)
CN_ROADS = (
    "中山路", "人民路", "解放路", "建设路", "南京东路", "科技园路", "滨江大道", "长安街", "延安西路", "世纪大道",
    "和平路", "新华路", "文化路", "工业园路", "学府路", "创业大道", "朝阳北路", "环城西路", "金融街", "光明路",
)  # fmt: skip
CN_BUILDINGS = ("大厦", "中心", "广场", "科技园", "商务楼", "产业园")


@dataclass(frozen=True)
class WestCity:
    name: str
    region: str
    country: str
    phone_prefixes: tuple[str, ...]  # E.164 prefixes of local landlines; the rest is random digits
    local_digits: int
    postal: tuple[str, ...]  # UK postcode areas or the first digits of US ZIP codes


WEST_CITIES = (
    WestCity("London", "Greater London", "GB", ("+44207", "+44203"), 7, ("EC", "WC", "SW", "NW", "SE")),
    WestCity("Manchester", "Greater Manchester", "GB", ("+44161",), 7, ("M",)),
    WestCity("Birmingham", "West Midlands", "GB", ("+44121",), 7, ("B",)),
    WestCity("Edinburgh", "Scotland", "GB", ("+44131",), 7, ("EH",)),
    WestCity("New York", "NY", "US", ("+1212", "+1646"), 7, ("100", "101", "102")),
    WestCity("San Francisco", "CA", "US", ("+1415",), 7, ("941",)),
    WestCity("Seattle", "WA", "US", ("+1206",), 7, ("981",)),
    WestCity("Boston", "MA", "US", ("+1617",), 7, ("021",)),
    WestCity("Chicago", "IL", "US", ("+1312",), 7, ("606",)),
    WestCity("Austin", "TX", "US", ("+1512",), 7, ("787",)),
)
WEST_STREETS = (
    "High Street", "King Street", "Station Road", "Church Lane", "Market Street", "Main Street", "Broadway",
    "Oak Avenue", "Elm Street", "Park Road", "Mill Lane", "Harbour View", "Queen's Road", "Victoria Street",
)  # fmt: skip
UK_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

# Mobile prefixes that libphonenumber knows as valid (checked by the tests).
PHONE_KINDS = (PhoneNumber.Kind.MOBILE, PhoneNumber.Kind.WORK, PhoneNumber.Kind.HOME)
CN_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156",
    "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "184", "185", "186", "187",
    "188", "189", "198", "199",
)  # fmt: skip
UK_MOBILE_PREFIXES = ("7400", "7401", "7450", "7500", "7740", "7710", "7720", "7730", "7800", "7900", "7950", "7970")
US_AREA_CODES = ("212", "415", "206", "617", "312", "512", "646", "303", "404", "503")

CN_PERSONAL_DOMAINS = ("qq.example", "163.example", "126.example", "sina.example", "foxmail.example")
WEST_PERSONAL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "inbox.example")

TAGS: tuple[tuple[str, str], ...] = (
    ("VIP", "#b91c1c"), ("重点客户", "#dc2626"), ("经销商网络", "#7c3aed"), ("Trade show 2025", "#2563eb"),
    ("展会线索", "#0891b2"), ("车队客户", "#059669"), ("Newsletter", "#65a30d"), ("老客户", "#ca8a04"),
    ("流失风险", "#ea580c"), ("Partner program", "#9333ea"), ("Wholesale", "#4f46e5"), ("转介绍", "#db2777"),
    ("Key account", "#be123c"), ("价格敏感", "#78716c"), ("WeChat group", "#16a34a"),
)  # fmt: skip
ACCOUNT_TAGS = ("VIP", "重点客户", "经销商网络", "Trade show 2025", "车队客户", "流失风险", "Partner program",
                "Wholesale", "Key account", "老客户")  # fmt: skip
PERSON_TAGS = ("VIP", "展会线索", "Newsletter", "老客户", "流失风险", "转介绍", "价格敏感", "WeChat group",
               "Trade show 2025")  # fmt: skip

PAYMENT_TERMS = ("预付", "月结30天", "月结60天", "Net 30", "Net 60", "Prepaid")
CLOTHING_SIZES = ("S", "M", "L", "XL", "XXL")
ATTRIBUTES: tuple[dict[str, Any], ...] = (
    {"target": "account", "key": "credit_limit", "label": "Credit limit / 信用额度", "data_type": AttributeType.NUMBER},
    {"target": "account", "key": "contract_renewal", "label": "Contract renewal / 合同续签日",
     "data_type": AttributeType.DATE},
    {"target": "account", "key": "payment_terms", "label": "Payment terms / 付款条件",
     "data_type": AttributeType.CHOICE, "choices": list(PAYMENT_TERMS)},
    {"target": "account", "key": "fleet_size", "label": "Fleet size / 车队规模", "data_type": AttributeType.NUMBER},
    {"target": "person", "key": "wechat_id", "label": "WeChat ID / 微信号", "data_type": AttributeType.TEXT},
    {"target": "person", "key": "loyalty_points", "label": "Loyalty points / 积分", "data_type": AttributeType.NUMBER},
    {"target": "person", "key": "member_since", "label": "Member since / 入会日期", "data_type": AttributeType.DATE},
    {"target": "person", "key": "clothing_size", "label": "Clothing size / 尺码", "data_type": AttributeType.CHOICE,
     "choices": list(CLOTHING_SIZES)},
)  # fmt: skip

ROLE_TITLES: dict[str, tuple[tuple[str, str], ...]] = {
    RoleKind.DECISION_MAKER: (("总经理", "Managing Director"), ("董事长", "CEO"), ("副总裁", "Vice President")),
    RoleKind.PURCHASER: (
        ("采购经理", "Purchasing Manager"),
        ("采购专员", "Buyer"),
        ("供应链主管", "Supply Chain Lead"),
    ),
    RoleKind.USER: (("工程师", "Engineer"), ("操作员", "Operator"), ("店长", "Store Manager")),
    RoleKind.INFLUENCER: (("顾问", "Advisor"), ("项目经理", "Project Manager"), ("市场总监", "Marketing Director")),
    RoleKind.FINANCE: (("财务经理", "Finance Manager"), ("会计", "Accountant"), ("财务总监", "CFO")),
    RoleKind.TECHNICAL: (("技术总监", "CTO"), ("IT经理", "IT Manager"), ("技术支持", "Technical Support")),
}
ROLE_KINDS = (
    RoleKind.DECISION_MAKER, RoleKind.PURCHASER, RoleKind.USER, RoleKind.INFLUENCER, RoleKind.FINANCE,
    RoleKind.TECHNICAL,
)  # fmt: skip
ROLE_WEIGHTS = (15, 20, 30, 10, 10, 15)

PREFERENCES = (
    ("喜欢微信沟通", "Prefers WeChat"), ("工作日下午方便接电话", "Best reached on weekday afternoons"),
    ("只接受邮件联系", "E-mail only, please"), ("偏好线下拜访", "Prefers meeting in person"),
    ("周末不要打扰", "No calls at weekends"), ("喜欢简短的报价单", "Likes a short written quote"),
    ("发票需提前确认抬头", "Confirm invoice details before issuing"), ("上午开会多，下午联系", "Busy in the mornings"),
)  # fmt: skip
MOTIVES = (
    ("价格敏感", "Price-sensitive"), ("看重售后服务", "Values after-sales service"),
    ("注重品牌口碑", "Cares about brand"),
    ("需要快速交货", "Needs fast delivery"), ("看重质量和耐用性", "Quality and durability first"),
    ("关注节能环保", "Cares about energy efficiency"), ("朋友推荐，信任度高", "Trusts a friend's recommendation"),
    ("希望一站式采购", "Wants one supplier for everything"),
)  # fmt: skip
ACCOUNT_NOTES = (
    ("年度框架协议谈判中", "Negotiating the annual framework agreement"),
    ("去年第四季度订单下滑", "Orders dropped last Q4"),
    ("新任采购负责人，需重新建立关系", "New head of purchasing; rebuild the relationship"),
    ("计划扩建华东仓库", "Planning a new warehouse"),
    ("对交付周期有投诉，已跟进", "Complained about lead times; followed up"),
)
CONSENT_WORDING = {
    "zh-hans": "我同意通过{channel}接收产品资讯和优惠信息，可随时退订。",
    "en": "I agree to receive product news and offers by {channel}. I can unsubscribe at any time.",
}
CONSENT_CHANNEL_NAMES = {
    "zh-hans": {"email": "电子邮件", "sms": "短信", "wechat": "微信", "phone": "电话"},
    "en": {"email": "e-mail", "sms": "text message", "wechat": "WeChat", "phone": "phone"},
}
CONSENT_SOURCES = {
    "zh-hans": ("展会登记表", "微信小程序", "门店登记", "官网注册"),
    "en": ("signup form", "trade show badge scan", "webinar registration", "store sign-up"),
}

STAGES = (
    LifecycleStage.VISITOR, LifecycleStage.PROSPECT, LifecycleStage.NEW, LifecycleStage.ACTIVE,
    LifecycleStage.LOYAL, LifecycleStage.AT_RISK, LifecycleStage.LOST, LifecycleStage.WON_BACK,
)  # fmt: skip
ACCOUNT_STAGE_WEIGHTS = (2, 25, 12, 35, 12, 7, 5, 2)
PERSON_STAGE_WEIGHTS = (10, 28, 12, 28, 10, 6, 4, 2)
SOURCES = (
    Source.WEB, Source.REFERRAL, Source.TRADE_SHOW, Source.COLD_CALL, Source.CAMPAIGN, Source.PARTNER, Source.IMPORT,
)  # fmt: skip
SOURCE_WEIGHTS = (25, 18, 15, 12, 12, 8, 10)
KINDS = (
    AccountKind.CUSTOMER, AccountKind.DISTRIBUTOR, AccountKind.RETAILER, AccountKind.PARTNER, AccountKind.SUPPLIER,
    AccountKind.COMPETITOR,
)  # fmt: skip
KIND_WEIGHTS = (60, 9, 13, 6, 8, 4)
SEGMENTS = ("", MarketSegment.ENTERPRISE, MarketSegment.MID_MARKET, MarketSegment.SMALL_BUSINESS)
SEGMENT_WEIGHTS = (10, 15, 35, 40)
GRADES = ("", Grade.A, Grade.B, Grade.C, Grade.D)
GRADE_WEIGHTS = (20, 8, 22, 35, 15)
STATUSES = (AccountStatus.ACTIVE, AccountStatus.INACTIVE, AccountStatus.CLOSED)
STATUS_WEIGHTS = (90, 7, 3)
CN_CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CN_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def cn_credit_code(body: str) -> str:
    """Append the GB 32100-2015 check character to the first 17 characters of a 统一社会信用代码."""
    total = sum(CN_CREDIT_CODE_CHARS.index(c) * w for c, w in zip(body, CN_CREDIT_CODE_WEIGHTS, strict=True))
    return body + CN_CREDIT_CODE_CHARS[(31 - total % 31) % 31]


# ---------------------------------------------------------------------------------------------
# Staff, teams, tags and attribute definitions: a handful of rows, written through the ORM.


@dataclass(frozen=True)
class StaffSpec:
    username: str
    role: str
    team: str  # team key, "" for none
    first_name: str
    last_name: str
    language: str
    manages: tuple[str, ...] = ()
    owns_records: bool = False


TEAMS = {"east": "East / 华东", "north": "North / 华北", "south": "South / 华南"}

BASE_STAFF = (
    StaffSpec("admin", StaffRole.ADMIN, "", "Alex", "Morgan", ""),
    StaffSpec("manager", StaffRole.SALES_MANAGER, "east", "静", "陈", "zh-hans", ("east",), owns_records=True),
    StaffSpec("rep1", StaffRole.SALES_REP, "east", "Tom", "Baker", "en", owns_records=True),
    StaffSpec("rep2", StaffRole.SALES_REP, "east", "娜", "李", "zh-hans", owns_records=True),
    StaffSpec("manager2", StaffRole.SALES_MANAGER, "north", "Oliver", "Smith", "en", ("north",), owns_records=True),
    StaffSpec("rep3", StaffRole.SALES_REP, "north", "伟", "张", "zh-hans", owns_records=True),
    StaffSpec("agent", StaffRole.SERVICE_AGENT, "", "芳", "王", "zh-hans"),
    StaffSpec("marketer", StaffRole.MARKETER, "", "Emma", "Wilson", "en"),
    StaffSpec("analyst", StaffRole.ANALYST, "", "磊", "赵", ""),
)


def staff_specs(size: DemoSize) -> list[StaffSpec]:
    specs = list(BASE_STAFF)
    if size.extra_reps:
        specs.append(StaffSpec("manager3", StaffRole.SALES_MANAGER, "south", "Hannah", "Lee", "en", ("south",), True))
    rng = random.Random(7)  # noqa: S311  -- names of demo staff, not secrets
    teams = ("east", "north", "south")
    for number in range(4, 4 + size.extra_reps):
        team = teams[number % 3]
        if number % 2:
            family, given = rng.choice(CN_SURNAMES)[0], rng.choice(CN_GIVEN)[0]
            specs.append(StaffSpec(f"rep{number}", StaffRole.SALES_REP, team, given, family, "zh-hans", (), True))
        else:
            first, last = rng.choice(WESTERN_GIVEN), rng.choice(WESTERN_FAMILY)
            specs.append(StaffSpec(f"rep{number}", StaffRole.SALES_REP, team, first, last, "en", (), True))
    return specs


@dataclass
class Reference:
    """Ids of the rows every generated record points at."""

    admin_id: int
    owners: list[tuple[int, int | None]]  # (user id, team id) of the staff who own records
    team_ids: list[int]
    tag_ids: dict[str, int]
    attribute_keys: set[tuple[str, str]]  # (target, key) whose definition has the demo's type
    created_users: list[str] = field(default_factory=list)


def ensure_reference_data(size: DemoSize, password: str, using: str = "default") -> Reference:
    """Teams, staff, tags and attribute definitions; existing ones (same name) are kept as they are."""
    with transaction.atomic(using=using):
        users = User.objects.db_manager(using)
        teams: dict[str, Team] = {}
        specs = staff_specs(size)
        wanted_teams = {s.team for s in specs if s.team}
        for key, name in TEAMS.items():
            if key in wanted_teams:
                teams[key], _created = Team.objects.db_manager(using).get_or_create(name=name)
        password_hash = make_password(password)  # hashed once: hashing per user costs ~0.5 s each
        created: list[str] = []
        by_name: dict[str, User] = {u.username: u for u in users.filter(username__in=[s.username for s in specs])}
        for spec in specs:
            user = by_name.get(spec.username)
            if user is None:
                user = User(
                    username=spec.username,
                    role=spec.role,
                    team=teams.get(spec.team),
                    first_name=spec.first_name,
                    last_name=spec.last_name,
                    email=f"{spec.username}@guanxi.example",
                    language=spec.language,
                    is_staff=spec.role == StaffRole.ADMIN,
                    is_superuser=spec.role == StaffRole.ADMIN,
                    password=password_hash,
                )
                user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
                user.save(using=using)
                by_name[spec.username] = user
                created.append(spec.username)
            for team_key in spec.manages:
                team = teams[team_key]
                if team.manager_id is None:
                    team.manager = user
                    team.save(using=using, update_fields=["manager"])
        tag_ids: dict[str, int] = {}
        for name, color in TAGS:
            tag, _created = Tag.objects.db_manager(using).get_or_create(name=name, defaults={"color": color})
            tag_ids[name] = tag.pk
        keys: set[tuple[str, str]] = set()
        for position, spec_data in enumerate(ATTRIBUTES):
            data = dict(spec_data)
            definition, _created = AttributeDefinition.objects.db_manager(using).get_or_create(
                target=data.pop("target"), key=data.pop("key"), defaults={**data, "position": position}
            )
            if definition.data_type == spec_data["data_type"] and definition.choices == spec_data.get("choices", []):
                keys.add((definition.target, definition.key))
        admin = by_name["admin"]
        owners = [(by_name[s.username].pk, by_name[s.username].team_id) for s in specs if s.owns_records]
        return Reference(
            admin_id=admin.pk,
            owners=owners,
            team_ids=[t.pk for t in teams.values()],
            tag_ids=tag_ids,
            attribute_keys=keys,
            created_users=created,
        )


# ---------------------------------------------------------------------------------------------
# Tables written with executemany


def _concrete(field: Any) -> models.Field[Any, Any]:
    if not isinstance(field, models.Field) or not field.concrete:
        raise TypeError(f"{field} is not a column")
    return field


class Table:
    """An INSERT for `model` naming `fields` (in row order); other columns get their defaults."""

    def __init__(self, model: type[models.Model], fields: Sequence[str], connection: BaseDatabaseWrapper) -> None:
        meta = model._meta
        self.model = model
        self.name = meta.db_table
        given = [_concrete(meta.get_field(name)) for name in fields]
        given_names = {f.name for f in given}
        rest = [
            f
            for f in meta.concrete_fields
            if f.name not in given_names and not (f.primary_key and isinstance(f, AutoFieldMixin))
        ]
        self.columns = [f.column for f in given] + [f.column for f in rest]
        self.defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
        quote = connection.ops.quote_name
        self.column_sql = ", ".join(quote(str(c)) for c in self.columns)
        self.quoted_name = quote(self.name)

    def sql(self, placeholder: str = "%s") -> str:
        values = ", ".join([placeholder] * len(self.columns))
        # Table and column names come from the models, quoted by the backend; values are parameters.
        return f"INSERT INTO {self.quoted_name} ({self.column_sql}) VALUES ({values})"  # noqa: S608

    def __repr__(self) -> str:
        return f"<Table {self.name}>"


Row = tuple[Any, ...]


@dataclass
class Chunk:
    """Rows of one transaction, table by table in an order that satisfies foreign keys."""

    kind: str  # "accounts" or "people"
    records: int
    tables: list[tuple[Table, list[Row]]]

    @property
    def rows(self) -> int:
        return sum(len(rows) for _table, rows in self.tables)


class Tables:
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        def table(model: type[models.Model], *fields: str) -> Table:
            return Table(model, fields, connection)

        party = ("owner", "source", "lifecycle_stage", "attributes", "notes", "created_at", "updated_at", "created_by")
        self.account = table(
            Account,
            "id", "name", "kind", "organisation_type", "industry", "market_segment", "grade", "parent", "website",
            "domain", "registration_number", "phone", "status", "team", *party,
        )  # fmt: skip
        self.address = table(Address, "account", "kind", "line1", "line2", "city", "region", "postal_code", "country")
        self.account_tag = table(Account.tags.through, "account", "tag")
        self.person = table(
            Person,
            "id", "family_name", "given_name", "full_name", "birthday", "preferred_language", "preferred_channel",
            "preferences", "buying_motives", *party,
        )  # fmt: skip
        self.email = table(EmailAddress, "person", "address", "kind", "is_primary")
        self.phone = table(PhoneNumber, "person", "number", "kind", "is_primary")
        self.role = table(Role, "person", "account", "kind", "job_title", "is_primary_contact", "note", "created_at")
        self.person_tag = table(Person.tags.through, "person", "tag")
        self.relationship = table(
            Relationship, "kind", "from_account", "from_person", "to_account", "to_person", "note", "created_at",
            "created_by",
        )  # fmt: skip
        self.lifecycle = table(
            LifecycleChange, "account", "person", "from_stage", "to_stage", "changed_at", "changed_by", "reason"
        )
        self.consent = table(
            ConsentRecord, "person", "purpose", "channel", "granted", "source", "wording", "recorded_at", "recorded_by"
        )
        self.search_term = table(SearchTerm, "term", "account", "person")


# ---------------------------------------------------------------------------------------------
# The generator


@dataclass
class _AccountInfo:
    id: int
    chinese: bool
    domain: str
    fleet: bool
    owner_id: int | None
    kind: str
    root_name: str
    industry: Industry


class DemoGenerator:
    """Yields chunks of rows: all accounts first, then people who point at them.

    Deterministic for a seed, the same first ids and the same `today`.
    """

    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        reference: Reference,
        *,
        accounts: int,
        people: int,
        seed: int,
        first_account_id: int = 1,
        first_person_id: int = 1,
        today: datetime.date | None = None,
        duplicate_share: float = 0.01,
    ) -> None:
        self.tables = Tables(connection)
        # Seeded duplicates: this share of people is a near-copy of an earlier person (a typo,
        # another word order, pinyin for characters, another e-mail, the same phone...);
        # `seeded_duplicates` lists (original id, copy id) so benchmarks can score the finder.
        self.duplicate_share = duplicate_share
        self.seeded_duplicates: list[tuple[int, int, str]] = []  # original, copy, variant
        self._copy_sources: list[_CopySource] = []
        self._used_emails: set[str] = set()
        self.ref = reference
        self.n_accounts = accounts
        self.n_people = people
        self.rng = random.Random(seed)  # noqa: S311  -- demo data, not secrets
        self.first_account_id = first_account_id
        self.first_person_id = first_person_id
        day = today or datetime.datetime.now(datetime.UTC).date()
        self.now = datetime.datetime(day.year, day.month, day.day, 9, 0, tzinfo=datetime.UTC)
        ops = connection.ops
        self._dt: Callable[[datetime.datetime], Any] = ops.adapt_datetimefield_value
        self._date: Callable[[datetime.date], Any] = ops.adapt_datefield_value
        self._json_adapter = ops.adapt_json_value
        self.empty_json = self._json({})
        self.accounts: list[_AccountInfo] = []
        self._cn_accounts: list[int] = []  # indexes into self.accounts
        self._en_accounts: list[int] = []
        self._parents: list[_AccountInfo] = []  # companies that may head a group or a distributor network
        self._fleet_buyer: dict[int, int] = {}  # account id -> person id of its fleet buyer
        self._domains: set[str] = set()
        self._referrers: list[int] = []
        self._recent_consumers: list[tuple[int, str, str, bool]] = []  # id, family, family pinyin, chinese
        self._surnames = CN_SURNAMES
        self._surname_cum = _cumulative([max(1.0, 60.0 / (rank + 4)) for rank in range(len(CN_SURNAMES))])
        self._owner_ids = [o[0] for o in reference.owners]
        self._owner_team = dict(reference.owners)
        self._account_tags = [reference.tag_ids[n] for n in ACCOUNT_TAGS if n in reference.tag_ids]
        self._person_tags = [reference.tag_ids[n] for n in PERSON_TAGS if n in reference.tag_ids]

    # -- small helpers -------------------------------------------------------------------------

    def _json(self, value: dict[str, Any]) -> Any:
        return self._json_adapter(value, None)

    def _weighted(self, values: Sequence[Any], cum: list[float]) -> Any:
        return self.rng.choices(values, cum_weights=cum)[0]

    def _pick[T](self, values: Sequence[T]) -> T:
        return values[int(self.rng.random() * len(values))]

    def _digits(self, count: int) -> str:
        return str(self.rng.randrange(10**count)).zfill(count)

    def _moment(self, days_back: int) -> datetime.datetime:
        return self.now - datetime.timedelta(seconds=self.rng.randrange(days_back * 86_400))

    def _owner(self, pool_share: float) -> int | None:
        if self.rng.random() < pool_share:
            return None
        return self._pick(self._owner_ids)

    def cn_mobile(self) -> str:
        return f"+86{self._pick(CN_MOBILE_PREFIXES)}{self._digits(8)}"

    def west_mobile(self) -> str:
        if self.rng.random() < 0.5:
            return f"+44{self._pick(UK_MOBILE_PREFIXES)}{self._digits(6)}"
        return f"+1{self._pick(US_AREA_CODES)}{self.rng.randrange(2, 10)}{self._digits(6)}"

    def cn_landline(self, city: CnCity) -> str:
        return self._valid(lambda: f"+86{city.area}{self.rng.randrange(5, 8)}{self._digits(7)}")

    def west_landline(self, city: WestCity) -> str:
        prefix = self._pick(city.phone_prefixes)
        return self._valid(lambda: f"{prefix}{self.rng.randrange(2, 9)}{self._digits(city.local_digits - 1)}")

    def _valid(self, make: Callable[[], str]) -> str:
        """Landline ranges have holes; draw again until libphonenumber knows the number (accounts only)."""
        for _attempt in range(20):
            number = make()
            if phonenumbers.is_valid_number(phonenumbers.parse(number, None)):
                return number
        raise ValueError(f"no valid number near {number}")

    def _unique_domain(self, base: str) -> str:
        domain = f"{base}.example"
        number = 2
        while domain in self._domains:
            domain = f"{base}{number}.example"
            number += 1
        self._domains.add(domain)
        return domain

    # -- accounts ------------------------------------------------------------------------------

    def chunks(self) -> Iterator[Chunk]:
        for start in range(0, self.n_accounts, ACCOUNT_CHUNK):
            yield self._account_chunk(start, min(self.n_accounts, start + ACCOUNT_CHUNK))
        for start in range(0, self.n_people, PERSON_CHUNK):
            yield self._person_chunk(start, min(self.n_people, start + PERSON_CHUNK))

    def _account_chunk(self, start: int, stop: int) -> Chunk:
        t = self.tables
        rows: dict[Table, list[Row]] = {
            tbl: [] for tbl in (t.account, t.address, t.account_tag, t.lifecycle, t.relationship, t.search_term)
        }
        for index in range(start, stop):
            self._account(self.first_account_id + index, rows)
        rows[t.search_term].sort(key=itemgetter(0))
        return Chunk("accounts", stop - start, list(rows.items()))

    def _account_name(
        self, chinese: bool, org_type: str, industry: Industry, city_cn: CnCity, city_west: WestCity
    ) -> tuple[str, str]:
        """(name, domain base) for an account that is not a branch."""
        rng = self.rng
        if chinese:
            brand, pinyin = self._pick(CN_BRANDS)
            if org_type == OrganisationType.GOVERNMENT:
                dept = self._pick(("市场监督管理局", "交通运输局", "教育局", "卫生健康委员会", "城市管理局"))
                return f"{city_cn.name}市{dept}", f"{city_cn.pinyin}gov"
            if org_type == OrganisationType.SCHOOL:
                if rng.random() < 0.5:
                    return f"{city_cn.name}市第{rng.randrange(1, 40)}中学", f"{city_cn.pinyin}school"
                return f"{city_cn.name}{brand}外国语学校", f"{pinyin}school"
            if org_type == OrganisationType.HOSPITAL:
                if rng.random() < 0.5:
                    return f"{city_cn.name}市第{rng.randrange(1, 12)}人民医院", f"{city_cn.pinyin}hospital"
                return f"{city_cn.name}{brand}口腔医院", f"{pinyin}dental"
            if org_type == OrganisationType.NONPROFIT:
                return f"{city_cn.name}市{brand}慈善基金会", f"{pinyin}foundation"
            legal = self._pick(("有限公司", "有限公司", "有限公司", "股份有限公司", "集团有限公司"))
            return f"{city_cn.name}{brand}{industry.zh_word}{legal}", f"{pinyin}{industry.slug}"
        brand = self._pick(EN_BRANDS)
        slug = brand.lower()
        if org_type == OrganisationType.GOVERNMENT:
            return f"{city_west.name} City Council", f"{city_west.name.replace(' ', '').lower()}council"
        if org_type == OrganisationType.SCHOOL:
            return f"{brand} Academy", f"{slug}academy"
        if org_type == OrganisationType.HOSPITAL:
            return f"{city_west.name} {brand} Hospital", f"{slug}hospital"
        if org_type == OrganisationType.NONPROFIT:
            return f"{brand} Foundation", f"{slug}foundation"
        legal = self._pick(("Ltd", "Ltd", "Inc.", "LLC", "plc", "GmbH", "Co."))
        return f"{brand} {industry.en_word} {legal}", f"{slug}{industry.slug}"

    def _account(self, account_id: int, rows: dict[Table, list[Row]]) -> None:
        rng, t = self.rng, self.tables
        chinese = rng.random() < 0.65
        kind = self._weighted(KINDS, _KIND_CUM)
        org_type = OrganisationType.COMPANY
        roll = rng.random()
        if kind == AccountKind.CUSTOMER and roll < 0.14:
            org_type = (
                OrganisationType.GOVERNMENT,
                OrganisationType.SCHOOL,
                OrganisationType.HOSPITAL,
                OrganisationType.NONPROFIT,
            )[int(roll / 0.035)]
        industry = self._pick(INDUSTRIES)
        city_cn, city_west = self._pick(CN_CITIES), self._pick(WEST_CITIES)
        parent: _AccountInfo | None = None
        # Group companies and distributor networks: a branch or a retailer under an earlier account.
        if self._parents and org_type == OrganisationType.COMPANY and rng.random() < 0.2:
            candidate = self._parents[self._parent_index()]
            if candidate.chinese == chinese:
                parent = candidate
        if parent is not None and parent.kind == AccountKind.DISTRIBUTOR:
            kind = self._pick((AccountKind.DISTRIBUTOR, AccountKind.RETAILER, AccountKind.RETAILER))
        name, domain_base = self._account_name(chinese, org_type, industry, city_cn, city_west)
        root_name = name
        # A customer's child is a branch of the group; a distributor's child trades under its own name.
        branch = parent is not None and parent.kind == AccountKind.CUSTOMER
        if parent is not None and branch:
            industry = parent.industry
            root_name = parent.root_name
            if chinese:
                name = f"{root_name}{city_cn.name}分公司"
            else:
                name = f"{root_name.rsplit(' ', 1)[0]} ({city_west.name})"
        # A branch shares the group's website.
        domain = parent.domain if parent is not None and branch else self._unique_domain(domain_base)
        website = f"https://www.{domain}/"
        domain = domain_of(website)
        if chinese:
            body = f"91{city_cn.postal}{self.rng.randrange(100, 1000)}" + "".join(
                self._pick(CN_CREDIT_CODE_CHARS) for _ in range(9)
            )
            registration = cn_credit_code(body)
            phone = self.cn_landline(city_cn) if rng.random() < 0.9 else ""
        else:
            registration = self._digits(8) if city_west.country == "GB" else f"{self._digits(2)}-{self._digits(7)}"
            phone = self.west_landline(city_west) if rng.random() < 0.9 else ""
        owner = self._owner(0.12)
        team = self._owner_team.get(owner) if owner is not None else None
        if owner is None and rng.random() < 0.5 and self.ref.team_ids:
            team = self._pick(self.ref.team_ids)
        stage = self._weighted(STAGES, _ACCOUNT_STAGE_CUM)
        created = self._moment(3 * 365)
        updated = min(self.now, created + datetime.timedelta(days=rng.randrange(0, 120)))
        attributes: dict[str, Any] = {}
        keys = self.ref.attribute_keys
        if ("account", "credit_limit") in keys and rng.random() < 0.5:
            attributes["credit_limit"] = rng.randrange(1, 200) * 10_000
        if ("account", "contract_renewal") in keys and rng.random() < 0.3:
            attributes["contract_renewal"] = (
                self.now.date() + datetime.timedelta(days=rng.randrange(-60, 400))
            ).isoformat()
        if ("account", "payment_terms") in keys and rng.random() < 0.4:
            attributes["payment_terms"] = self._pick(PAYMENT_TERMS[:3] if chinese else PAYMENT_TERMS[3:])
        if industry.fleet and ("account", "fleet_size") in keys and rng.random() < 0.8:
            attributes["fleet_size"] = rng.randrange(5, 800)
        notes = ""
        if rng.random() < 0.1:
            notes = self._pick(ACCOUNT_NOTES)[0 if chinese else 1]
        owner_or_admin = owner if owner is not None else self.ref.admin_id
        rows[t.account].append(
            (
                account_id,
                name,
                kind,
                org_type,
                industry.zh if chinese else industry.en,
                self._weighted(SEGMENTS, _SEGMENT_CUM) if org_type == OrganisationType.COMPANY else "public_sector",
                self._weighted(GRADES, _GRADE_CUM),
                parent.id if parent else None,
                website,
                domain,
                registration,
                phone,
                self._weighted(STATUSES, _STATUS_CUM),
                team,
                owner,
                self._weighted(SOURCES, _SOURCE_CUM),
                stage,
                self._json(attributes) if attributes else self.empty_json,
                notes,
                self._dt(created),
                self._dt(updated),
                owner_or_admin,
                *t.account.defaults,
            )
        )
        self._addresses(account_id, chinese, city_cn, city_west, rows[t.address])
        if self._account_tags and rng.random() < 0.3:
            for tag in {self._pick(self._account_tags) for _ in range(rng.randrange(1, 3))}:
                rows[t.account_tag].append((account_id, tag, *t.account_tag.defaults))
        rows[t.lifecycle].append(
            (account_id, None, "", stage, self._dt(created), owner_or_admin, DEMO_REASON, *t.lifecycle.defaults)
        )
        rows[t.search_term].extend(
            (term, account_id, None, *t.search_term.defaults)
            for term in account_search_terms(name, domain, registration, phone)
        )
        self._account_relationship(account_id, kind, created, rows[t.relationship])
        info = _AccountInfo(account_id, chinese, domain, industry.fleet, owner, kind, root_name, industry)
        (self._cn_accounts if chinese else self._en_accounts).append(len(self.accounts))
        self.accounts.append(info)
        if org_type == OrganisationType.COMPANY and kind in (AccountKind.CUSTOMER, AccountKind.DISTRIBUTOR):
            self._parents.append(info)

    def _parent_index(self) -> int:
        # Prefer the first accounts as heads, so trees grow a few levels deep rather than wide only.
        count = len(self._parents)
        return min(count - 1, int((self.rng.random() ** 2) * count))

    def _account_relationship(self, account_id: int, kind: str, created: datetime.datetime, out: list[Row]) -> None:
        if len(self.accounts) < 10 or self.rng.random() > 0.12:
            return
        other = self.accounts[int(self.rng.random() * len(self.accounts))]
        if kind == AccountKind.SUPPLIER:
            rel = RelationshipKind.SUPPLIES
        elif kind == AccountKind.COMPETITOR:
            rel = RelationshipKind.COMPETES_WITH
        elif kind == AccountKind.CUSTOMER and other.kind in (AccountKind.DISTRIBUTOR, AccountKind.RETAILER):
            rel = RelationshipKind.SELLS_THROUGH
        else:
            return
        out.append(
            (
                rel,
                account_id,
                None,
                other.id,
                None,
                "",
                self._dt(created),
                self.ref.admin_id,
                *self.tables.relationship.defaults,
            )
        )

    def _addresses(self, account_id: int, chinese: bool, city_cn: CnCity, city_west: WestCity, out: list[Row]) -> None:
        rng = self.rng
        if rng.random() > 0.9:
            return
        kinds = [Address.Kind.OFFICE]
        if rng.random() < 0.3:
            kinds.append(self._pick((Address.Kind.BILLING, Address.Kind.SHIPPING)))
        for kind in kinds:
            if chinese:
                building = f"{self._pick(CN_BRANDS)[0]}{self._pick(CN_BUILDINGS)}"
                row: Row = (
                    account_id,
                    kind,
                    f"{self._pick(city_cn.districts)}{self._pick(CN_ROADS)}{rng.randrange(1, 1200)}号",
                    f"{building}{rng.randrange(1, 30)}楼{rng.randrange(1, 30):02d}室" if rng.random() < 0.7 else "",
                    f"{city_cn.name}市",
                    city_cn.region,
                    f"{city_cn.postal}{self._digits(3)}",
                    "CN",
                )
            elif city_west.country == "GB":
                letters = UK_POSTCODE_LETTERS
                postcode = (
                    f"{self._pick(city_west.postal)}{rng.randrange(1, 20)} "
                    f"{rng.randrange(1, 10)}{self._pick(letters)}{self._pick(letters)}"
                )
                row = (
                    account_id,
                    kind,
                    f"{rng.randrange(1, 300)} {self._pick(WEST_STREETS)}",
                    f"Unit {rng.randrange(1, 40)}" if rng.random() < 0.3 else "",
                    city_west.name,
                    city_west.region,
                    postcode,
                    "GB",
                )
            else:
                zip_prefix = self._pick(city_west.postal)
                row = (
                    account_id,
                    kind,
                    f"{rng.randrange(1, 9999)} {self._pick(WEST_STREETS)}",
                    f"Suite {rng.randrange(100, 2000)}" if rng.random() < 0.4 else "",
                    city_west.name,
                    city_west.region,
                    zip_prefix + self._digits(5 - len(zip_prefix)),
                    "US",
                )
            out.append(row + self.tables.address.defaults)

    # -- people --------------------------------------------------------------------------------

    def _person_chunk(self, start: int, stop: int) -> Chunk:
        t = self.tables
        rows: dict[Table, list[Row]] = {
            tbl: []
            for tbl in (
                t.person,
                t.email,
                t.phone,
                t.role,
                t.person_tag,
                t.lifecycle,
                t.consent,
                t.relationship,
                t.search_term,
            )
        }
        share = self.duplicate_share
        for index in range(start, stop):
            if share and self._copy_sources and self.rng.random() < share:
                self._near_copy(self.first_person_id + index, rows)
            else:
                self._person(self.first_person_id + index, rows)
        rows[t.search_term].sort(key=itemgetter(0))
        return Chunk("people", stop - start, list(rows.items()))

    def _chinese_name(self) -> tuple[str, str, str, str]:
        """(family, given, family pinyin, given pinyin)"""
        rng = self.rng
        if rng.random() < 0.02:
            family, family_py = self._pick(CN_COMPOUND_SURNAMES)
        else:
            family, family_py = self._surnames[_bisect(self._surname_cum, rng.random() * self._surname_cum[-1])]
        first, first_py = self._pick(CN_GIVEN)
        if rng.random() < 0.3:
            return family, first, family_py, first_py
        second, second_py = self._pick(CN_GIVEN)
        return family, first + second, family_py, first_py + second_py

    def _person(self, person_id: int, rows: dict[Table, list[Row]]) -> None:
        rng, t = self.rng, self.tables
        chinese = rng.random() < 0.6
        family_member: tuple[int, str, str, bool] | None = None
        if self._recent_consumers and rng.random() < 0.03:
            family_member = self._pick(self._recent_consumers)
            chinese = family_member[3]
        if chinese:
            family, given, family_py, given_py = self._chinese_name()
            if family_member is not None:
                family, family_py = family_member[1], family_member[2]
            language = "zh-hans" if rng.random() < 0.9 else ""
        else:
            family, given = self._pick(WESTERN_FAMILY), self._pick(WESTERN_GIVEN)
            if family_member is not None:
                family = family_member[1]
            family_py, given_py = family.lower(), given.lower()
            language = "en" if rng.random() < 0.85 else ""
        created = self._moment(3 * 365)
        # Where they work: most people are contacts of an account, the rest are consumers.
        account: _AccountInfo | None = None
        if family_member is None and self.accounts and rng.random() < 0.7:
            same = self._cn_accounts if chinese else self._en_accounts
            pool = same if same and rng.random() < 0.85 else (self._cn_accounts or self._en_accounts)
            account = self.accounts[pool[int(rng.random() * len(pool))]]
        # Contacts.
        emails: list[str] = []
        email_count = self._weighted((0, 1, 2), _EMAIL_COUNT_CUM)
        for position in range(email_count):
            if account is not None and position == 0:
                local = f"{given_py}.{family_py}" if rng.random() < 0.6 else f"{given_py[0]}{family_py}"
                address = f"{local}@{account.domain}"
                kind = EmailAddress.Kind.WORK
            else:
                style = rng.random()
                if chinese and style < 0.25:
                    local = str(rng.randrange(10_000_000, 3_000_000_000))  # a QQ number
                elif style < 0.6:
                    local = f"{family_py}{given_py}{rng.randrange(1, 100) if rng.random() < 0.6 else ''}"
                else:
                    local = f"{given_py}.{family_py}{rng.randrange(1960, 2006) if rng.random() < 0.4 else ''}"
                domains = CN_PERSONAL_DOMAINS if chinese else WEST_PERSONAL_DOMAINS
                address = f"{local}@{self._pick(domains)}"
                kind = EmailAddress.Kind.PERSONAL
            address = self._unique_email(address)
            if address not in emails:
                emails.append(address)
                rows[t.email].append((person_id, address, kind, len(emails) == 1, *t.email.defaults))
        phones: list[str] = []
        for _position in range(self._weighted((0, 1, 2), _PHONE_COUNT_CUM)):
            number = self.cn_mobile() if chinese or rng.random() < 0.15 else self.west_mobile()
            if number not in phones:
                phones.append(number)
                phone_kind = PhoneNumber.Kind.MOBILE if len(phones) == 1 else self._pick(PHONE_KINDS)
                rows[t.phone].append((person_id, number, phone_kind, len(phones) == 1, *t.phone.defaults))
        # Profile.
        birthday = None
        if rng.random() < 0.7:
            birthday = self._date(datetime.date(rng.randrange(1955, 2006), rng.randrange(1, 13), rng.randrange(1, 29)))
        channel = (
            self._pick(("wechat", "wechat", "phone", "sms", "email", ""))
            if chinese
            else self._pick(("email", "email", "phone", "sms", ""))
        )
        lang_index = 0 if chinese else 1
        preferences = ""
        if rng.random() < 0.35:
            preferences = ("；" if chinese else "; ").join(
                dict.fromkeys(self._pick(PREFERENCES)[lang_index] for _ in range(rng.randrange(1, 3)))
            )
        motives = ""
        if rng.random() < 0.35:
            motives = ("；" if chinese else "; ").join(
                dict.fromkeys(self._pick(MOTIVES)[lang_index] for _ in range(rng.randrange(1, 3)))
            )
        owner = account.owner_id if account is not None and rng.random() < 0.8 else self._owner(0.15)
        attributes: dict[str, Any] = {}
        keys = self.ref.attribute_keys
        if chinese and ("person", "wechat_id") in keys and rng.random() < 0.4:
            attributes["wechat_id"] = f"{family_py}{given_py}_{rng.randrange(100, 10_000)}"
        if account is None and ("person", "loyalty_points") in keys and rng.random() < 0.5:
            attributes["loyalty_points"] = rng.randrange(0, 50_000)
        if account is None and ("person", "member_since") in keys and rng.random() < 0.4:
            attributes["member_since"] = (created.date() - datetime.timedelta(days=rng.randrange(0, 2000))).isoformat()
        if account is None and ("person", "clothing_size") in keys and rng.random() < 0.2:
            attributes["clothing_size"] = self._pick(CLOTHING_SIZES)
        stage = self._weighted(STAGES, _PERSON_STAGE_CUM)
        updated = min(self.now, created + datetime.timedelta(days=rng.randrange(0, 90)))
        owner_or_admin = owner if owner is not None else self.ref.admin_id
        rows[t.person].append(
            (
                person_id,
                family,
                given,
                full_name(family, given),
                birthday,
                language,
                channel,
                preferences,
                motives,
                owner,
                self._weighted(SOURCES, _SOURCE_CUM),
                stage,
                self._json(attributes) if attributes else self.empty_json,
                "",
                self._dt(created),
                self._dt(updated),
                owner_or_admin,
                *t.person.defaults,
            )
        )
        created_sql = self._dt(created)
        rows[t.lifecycle].append(
            (None, person_id, "", stage, created_sql, owner_or_admin, DEMO_REASON, *t.lifecycle.defaults)
        )
        if self._person_tags and rng.random() < 0.35:
            for tag in {self._pick(self._person_tags) for _ in range(rng.randrange(1, 3))}:
                rows[t.person_tag].append((person_id, tag, *t.person_tag.defaults))
        rows[t.search_term].extend(
            (term, None, person_id, *t.search_term.defaults)
            for term in person_search_terms(family, given, emails, phones)
        )
        relationships = rows[t.relationship]
        # Roles: the buyer and the user told apart; fleet accounts get a buyer and drivers.
        if account is not None:
            self._roles(person_id, account, chinese, created_sql, rows[t.role], relationships)
            if rng.random() < 0.03 and len(self.accounts) > 1:
                other = self.accounts[int(rng.random() * len(self.accounts))]
                if other.id != account.id:
                    role = self._pick((RoleKind.INFLUENCER, RoleKind.TECHNICAL, RoleKind.FINANCE))
                    title = self._pick(ROLE_TITLES[role])[lang_index]
                    rows[t.role].append((person_id, other.id, role, title, False, "", created_sql, *t.role.defaults))
        else:
            self._recent_consumers.append((person_id, family, family_py, chinese))
            if len(self._recent_consumers) > 200:
                del self._recent_consumers[:100]
        if family_member is not None:
            note = "家人" if chinese else "family"
            relationships.append(
                (
                    RelationshipKind.FAMILY,
                    None,
                    person_id,
                    None,
                    family_member[0],
                    note,
                    created_sql,
                    owner_or_admin,
                    *t.relationship.defaults,
                )
            )
            if rng.random() < 0.5:  # a parent buying for their child, or the other way round
                relationships.append(
                    (
                        RelationshipKind.BUYS_FOR,
                        None,
                        family_member[0],
                        None,
                        person_id,
                        "",
                        created_sql,
                        owner_or_admin,
                        *t.relationship.defaults,
                    )
                )
        # Referral chains: the newest people are likeliest to refer the next.
        if self._referrers and rng.random() < 0.08:
            window = self._referrers[-300:]
            referrer = window[int(rng.random() * len(window))]
            relationships.append(
                (
                    RelationshipKind.REFERRED_BY,
                    None,
                    person_id,
                    None,
                    referrer,
                    "",
                    created_sql,
                    owner_or_admin,
                    *t.relationship.defaults,
                )
            )
            self._referrers.append(person_id)
        elif rng.random() < 0.05:
            self._referrers.append(person_id)
        if len(self._referrers) > 5000:
            del self._referrers[:2500]
        self._consents(person_id, chinese, created, emails, phones, rows[t.consent])
        if self.duplicate_share and (emails or phones or account is not None):
            self._copy_sources.append(
                _CopySource(
                    person_id,
                    chinese,
                    family,
                    given,
                    family_py,
                    given_py,
                    tuple(emails),
                    tuple(phones),
                    account,
                    birthday,
                    owner,
                    language,
                    channel,
                )
            )
            if len(self._copy_sources) > 400:
                del self._copy_sources[:200]

    def _unique_email(self, address: str) -> str:
        """A mailbox belongs to one person: a taken address gets a number, as a mail provider
        would ask for, so two generated people never share one (only seeded copies do)."""
        if address not in self._used_emails:
            self._used_emails.add(address)
            return address
        local, _at, domain = address.partition("@")
        while True:
            candidate = f"{local}{self.rng.randrange(2, 10_000)}@{domain}"
            if candidate not in self._used_emails:
                self._used_emails.add(candidate)
                return candidate

    # -- seeded duplicates ---------------------------------------------------------------------

    def _typo(self, word: str) -> str:
        """One keyboard slip in a Latin word: a letter dropped, doubled, swapped or replaced."""
        rng = self.rng
        if len(word) < 3:
            return word + word[-1]
        position = rng.randrange(1, len(word) - 1)
        kind = rng.random()
        if kind < 0.3:
            return word[:position] + word[position + 1 :]
        if kind < 0.5:
            return word[:position] + word[position] + word[position:]
        if kind < 0.8:
            return word[: position - 1] + word[position] + word[position - 1] + word[position + 1 :]
        replacement = self._pick([c for c in "aeiouy" if c != word[position]])
        return word[:position] + replacement + word[position + 1 :]

    def _copy_name(self, src: "_CopySource") -> tuple[str, str, str]:
        """(family, given, variant) of the copy: how the same name was entered a second time."""
        roll = self.rng.random()
        if src.chinese:
            if roll < 0.3:
                chars = list(src.given)
                spots = [i for i, c in enumerate(chars) if c in _HOMOPHONES]
                if spots:  # a pinyin input method picks a homophone: 晓明 → 小明
                    spot = self._pick(spots)
                    chars[spot] = self._pick(_HOMOPHONES[chars[spot]])
                    return src.family, "".join(chars), "homophone"
            if roll < 0.5:
                return src.given, src.family, "swapped"
            if roll < 0.8:
                family_py, given_py = src.family_py.capitalize(), src.given_py.capitalize()
                if self.rng.random() < 0.3:
                    return "", f"{given_py} {family_py}", "pinyin"
                return family_py, given_py, "pinyin"
            return src.family, src.given, "same_name"
        if roll < 0.45:
            if self.rng.random() < 0.6:
                return src.family, self._typo(src.given), "typo"
            return self._typo(src.family), src.given, "typo"
        if roll < 0.7:
            return src.given, src.family, "swapped"
        return src.family, src.given, "same_name"

    def _near_copy(self, person_id: int, rows: dict[Table, list[Row]]) -> None:
        """The same person entered again: a name variant, keeping at least one of their e-mail,
        phone or company, perhaps with another e-mail or phone of their own."""
        rng, t = self.rng, self.tables
        src = self._copy_sources.pop(int(rng.random() * len(self._copy_sources)))
        family, given, variant = self._copy_name(src)
        links = [kind for kind, present in (("email", src.emails), ("phone", src.phones), ("account", src.account))
                 if present]  # fmt: skip
        kept = {kind for kind in links if rng.random() < 0.5} or {self._pick(links)}
        emails = [src.emails[0]] if "email" in kept else []
        if rng.random() < 0.4:
            domains = CN_PERSONAL_DOMAINS if src.chinese else WEST_PERSONAL_DOMAINS
            emails.append(self._unique_email(f"{src.family_py}.{src.given_py}@{self._pick(domains)}"))
        phones = [src.phones[0]] if "phone" in kept else []
        if not phones and rng.random() < 0.3:
            phones.append(self.cn_mobile() if src.chinese else self.west_mobile())
        account = src.account if "account" in kept else None
        created = self._moment(365)
        created_sql = self._dt(created)
        owner = src.owner if rng.random() < 0.8 else self._owner(0.15)
        owner_or_admin = owner if owner is not None else self.ref.admin_id
        stage = self._weighted(STAGES, _PERSON_STAGE_CUM)
        birthday = src.birthday if rng.random() < 0.5 else None
        rows[t.person].append(
            (
                person_id,
                family,
                given,
                full_name(family, given),
                birthday,
                src.language,
                src.channel,
                "",
                "",
                owner,
                Source.IMPORT,
                stage,
                self.empty_json,
                "",
                created_sql,
                created_sql,
                owner_or_admin,
                *t.person.defaults,
            )
        )
        rows[t.lifecycle].append(
            (None, person_id, "", stage, created_sql, owner_or_admin, DEMO_REASON, *t.lifecycle.defaults)
        )
        for position, address in enumerate(dict.fromkeys(emails)):
            work = account is not None and address.endswith("@" + account.domain)
            kind = EmailAddress.Kind.WORK if work else EmailAddress.Kind.PERSONAL
            rows[t.email].append((person_id, address, kind, position == 0, *t.email.defaults))
        for position, number in enumerate(dict.fromkeys(phones)):
            rows[t.phone].append((person_id, number, PhoneNumber.Kind.MOBILE, position == 0, *t.phone.defaults))
        if account is not None:
            kind = self._weighted(ROLE_KINDS, _ROLE_CUM)
            title = self._pick(ROLE_TITLES[kind])[0 if src.chinese else 1]
            rows[t.role].append((person_id, account.id, kind, title, False, "", created_sql, *t.role.defaults))
        rows[t.search_term].extend(
            (term, None, person_id, *t.search_term.defaults)
            for term in person_search_terms(family, given, list(dict.fromkeys(emails)), list(dict.fromkeys(phones)))
        )
        self.seeded_duplicates.append((src.id, person_id, variant))

    def _roles(
        self,
        person_id: int,
        account: _AccountInfo,
        chinese: bool,
        created_sql: Any,
        out: list[Row],
        relationships: list[Row],
    ) -> None:
        rng, role_table = self.rng, self.tables.role
        lang_index = 0 if chinese else 1
        if account.fleet:
            buyer = self._fleet_buyer.get(account.id)
            if buyer is None:
                self._fleet_buyer[account.id] = person_id
                title = ("车队经理", "Fleet Manager")[lang_index]
                note = ("负责车辆采购", "buys the vehicles")[lang_index]
                out.append(
                    (person_id, account.id, RoleKind.PURCHASER, title, True, note, created_sql, *role_table.defaults)
                )
                out.append(
                    (
                        person_id,
                        account.id,
                        RoleKind.DECISION_MAKER,
                        title,
                        False,
                        "",
                        created_sql,
                        *role_table.defaults,
                    )
                )
                return
            title = ("司机", "Driver")[lang_index]
            note = ("日常使用车辆", "drives the vehicle every day")[lang_index]
            out.append((person_id, account.id, RoleKind.USER, title, False, note, created_sql, *role_table.defaults))
            if rng.random() < 0.3:
                relationships.append(
                    (
                        RelationshipKind.BUYS_FOR,
                        None,
                        buyer,
                        None,
                        person_id,
                        "",
                        created_sql,
                        self.ref.admin_id,
                        *self.tables.relationship.defaults,
                    )
                )
            return
        kind = self._weighted(ROLE_KINDS, _ROLE_CUM)
        title = self._pick(ROLE_TITLES[kind])[lang_index]
        primary = kind == RoleKind.DECISION_MAKER and rng.random() < 0.3
        out.append((person_id, account.id, kind, title, primary, "", created_sql, *role_table.defaults))
        if kind == RoleKind.DECISION_MAKER and rng.random() < 0.2:
            out.append((person_id, account.id, RoleKind.PURCHASER, title, False, "", created_sql, *role_table.defaults))

    def _consents(
        self,
        person_id: int,
        chinese: bool,
        created: datetime.datetime,
        emails: list[str],
        phones: list[str],
        out: list[Row],
    ) -> None:
        rng, table = self.rng, self.tables.consent
        language = "zh-hans" if chinese else "en"
        channels = []
        if emails and rng.random() < 0.5:
            channels.append(Channel.EMAIL)
        if phones and rng.random() < 0.3:
            channels.append(Channel.WECHAT if chinese else Channel.SMS)
        for channel in channels:
            wording = CONSENT_WORDING[language].format(channel=CONSENT_CHANNEL_NAMES[language][channel])
            source = self._pick(CONSENT_SOURCES[language])
            granted_at = created + datetime.timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
            out.append(
                (
                    person_id,
                    ConsentPurpose.MARKETING,
                    channel,
                    True,
                    source,
                    wording,
                    self._dt(granted_at),
                    None,
                    *table.defaults,
                )
            )
            if rng.random() < 0.1:
                withdrawn = min(self.now, granted_at + datetime.timedelta(days=rng.randrange(1, 400)))
                withdrawal = (ConsentPurpose.MARKETING, channel, False, "unsubscribe link", wording)
                out.append((person_id, *withdrawal, self._dt(withdrawn), None, *table.defaults))


@dataclass(frozen=True)
class _CopySource:
    """What a seeded near-copy of a person is made from."""

    id: int
    chinese: bool
    family: str
    given: str
    family_py: str
    given_py: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    account: _AccountInfo | None
    birthday: Any
    owner: int | None
    language: str
    channel: str


def _homophones() -> dict[str, tuple[str, ...]]:
    """Given-name characters with another of the same pinyin in the list (丽/莉, 玉/宇/雨)."""
    by_sound: dict[str, list[str]] = {}
    for char, sound in CN_GIVEN:
        by_sound.setdefault(sound, []).append(char)
    return {c: tuple(o for o in chars if o != c) for chars in by_sound.values() if len(chars) > 1 for c in chars}


_HOMOPHONES = _homophones()


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = 0.0
    result = []
    for weight in weights:
        total += weight
        result.append(total)
    return result


def _bisect(cum: list[float], value: float) -> int:
    low, high = 0, len(cum) - 1
    while low < high:
        middle = (low + high) // 2
        if cum[middle] <= value:
            low = middle + 1
        else:
            high = middle
    return low


_KIND_CUM = _cumulative(KIND_WEIGHTS)
_ACCOUNT_STAGE_CUM = _cumulative(ACCOUNT_STAGE_WEIGHTS)
_PERSON_STAGE_CUM = _cumulative(PERSON_STAGE_WEIGHTS)
_SOURCE_CUM = _cumulative(SOURCE_WEIGHTS)
_SEGMENT_CUM = _cumulative(SEGMENT_WEIGHTS)
_GRADE_CUM = _cumulative(GRADE_WEIGHTS)
_STATUS_CUM = _cumulative(STATUS_WEIGHTS)
_ROLE_CUM = _cumulative(ROLE_WEIGHTS)
_EMAIL_COUNT_CUM = _cumulative((10, 60, 30))
_PHONE_COUNT_CUM = _cumulative((8, 70, 22))


# ---------------------------------------------------------------------------------------------
# Writing


def write_chunk(chunk: Chunk, using: str = "default") -> int:
    """Insert one chunk in one transaction with the driver's executemany; returns rows written."""
    connection = connections[using]
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            # Django's psycopg cursors bind parameters client-side and Django turns prepared statements
            # off, which halves executemany's rate; a cursor on the same connection (and transaction)
            # binds server-side, with statements prepared for this chunk only.
            connection.ensure_connection()
            driver = connection.connection
            threshold = driver.prepare_threshold
            driver.prepare_threshold = 0
            try:
                with server_binding_cursor(connection) as raw_cursor:
                    for table, rows in chunk.tables:
                        if rows:
                            raw_cursor.executemany(table.sql(), rows)
            finally:
                driver.prepare_threshold = threshold
        else:
            with connection.cursor() as cursor:
                for table, rows in chunk.tables:
                    if rows:
                        cursor.executemany(table.sql(), rows)
    return chunk.rows


def finish_load(using: str = "default") -> None:
    """After explicit ids: move the id sequences past them (PostgreSQL) and refresh planner statistics."""
    connection = connections[using]
    tables = [Account, Person]
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), tables):
            cursor.execute(statement)
        if connection.vendor == "postgresql":
            names = [
                m._meta.db_table
                for m in (
                    Account,
                    Address,
                    Account.tags.through,
                    Person,
                    Person.tags.through,
                    EmailAddress,
                    PhoneNumber,
                    Role,
                    Relationship,
                    LifecycleChange,
                    ConsentRecord,
                    SearchTerm,
                )
            ]
            cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(n) for n in names))
        elif connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=1000")
            cursor.execute("ANALYZE")


def next_id(model: type[Account] | type[Person], using: str = "default") -> int:
    last = model.objects.using(using).order_by("-pk").values_list("pk", flat=True).first()
    return int(last or 0) + 1


@dataclass
class LoadReport:
    accounts: int = 0
    people: int = 0
    rows: int = 0
    seconds: float = 0.0
    created_users: list[str] = field(default_factory=list)
    by_table: dict[str, int] = field(default_factory=dict)


def load_demo_data(
    *,
    accounts: int,
    people: int,
    size: DemoSize,
    password: str = DEMO_PASSWORD,
    seed: int = 1,
    using: str = "default",
    progress: Callable[[str], None] | None = None,
) -> LoadReport:
    """Generate and insert demo data; adds to what exists (callers check whether they should)."""
    started = time.perf_counter()
    reference = ensure_reference_data(size, password, using)
    generator = DemoGenerator(
        connections[using],
        reference,
        accounts=accounts,
        people=people,
        seed=seed,
        first_account_id=next_id(Account, using),
        first_person_id=next_id(Person, using),
    )
    report = LoadReport(created_users=reference.created_users)
    last_print = 0.0
    for chunk in generator.chunks():
        report.rows += write_chunk(chunk, using)
        for table, rows in chunk.tables:
            report.by_table[table.name] = report.by_table.get(table.name, 0) + len(rows)
        if chunk.kind == "accounts":
            report.accounts += chunk.records
        else:
            report.people += chunk.records
        elapsed = time.perf_counter() - started
        if progress is not None and (elapsed - last_print > 2 or report.people == people):
            last_print = elapsed
            progress(
                f"accounts {report.accounts:,}/{accounts:,}  people {report.people:,}/{people:,}  "
                f"rows {report.rows:,}  {report.rows / elapsed:,.0f} rows/s  "
                f"{(report.accounts + report.people) / elapsed:,.0f} records/s"
            )
    finish_load(using)
    report.seconds = time.perf_counter() - started
    return report
