"""Lead factories that go through the services, so test data has history, scores and owners."""

from typing import Any

from factory.base import Factory
from factory.declarations import Sequence

from guanxi.customers.tests.factories import _system_admin
from guanxi.leads import services
from guanxi.leads.models import AssignmentRule, Lead, ScoringRule, WebForm


class LeadFactory(Factory[Lead]):
    class Meta:
        model = Lead

    family_name = Sequence(lambda n: f"Lead{n}")
    given_name = "Sam"
    company_name = Sequence(lambda n: f"Prospect {n} Ltd")
    email = Sequence(lambda n: f"lead{n}@prospect{n}.example.com")

    @classmethod
    def _create(cls, model_class: type[Lead], *args: Any, **kwargs: Any) -> Lead:
        actor = kwargs.pop("actor", None) or _system_admin()
        attributes = kwargs.pop("attributes", None)
        status = kwargs.pop("status", None)
        lead = services.create_lead(actor, kwargs, attributes=attributes)
        if status:
            reason = "not a fit" if status == "disqualified" else ""
            lead = services.set_lead_status(_system_admin(), lead, status, reason=reason)
        return lead


class ScoringRuleFactory(Factory[ScoringRule]):
    class Meta:
        model = ScoringRule

    label = Sequence(lambda n: f"Rule {n}")
    kind = "field_filled"
    field = "phone"
    points = 10

    @classmethod
    def _create(cls, model_class: type[ScoringRule], *args: Any, **kwargs: Any) -> ScoringRule:
        return services.create_scoring_rule(kwargs.pop("actor", None) or _system_admin(), kwargs)


class AssignmentRuleFactory(Factory[AssignmentRule]):
    class Meta:
        model = AssignmentRule

    name = Sequence(lambda n: f"Assignment {n}")

    @classmethod
    def _create(cls, model_class: type[AssignmentRule], *args: Any, **kwargs: Any) -> AssignmentRule:
        return services.create_assignment_rule(kwargs.pop("actor", None) or _system_admin(), kwargs)


class WebFormFactory(Factory[WebForm]):
    class Meta:
        model = WebForm

    name = Sequence(lambda n: f"Contact us {n}")
    fields = ("family_name", "given_name", "company_name", "email", "phone", "message")
    thank_you_text = "Thanks, we will call you."

    @classmethod
    def _create(cls, model_class: type[WebForm], *args: Any, **kwargs: Any) -> WebForm:
        kwargs["fields"] = list(kwargs["fields"])
        return services.create_web_form(kwargs.pop("actor", None) or _system_admin(), kwargs)
