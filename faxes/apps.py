from __future__ import annotations

from django.apps import AppConfig


class FaxesConfig(AppConfig):
    name = "faxes"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from faxes import metrics as fax_metrics
        from faxes.models import Fax
        from sendfaxmail.lib import metrics

        post_save.connect(fax_metrics.fax_saved, sender=Fax, dispatch_uid="fax-metrics")
        metrics.register_scrape_collector(fax_metrics.WaitingFaxesCollector())
