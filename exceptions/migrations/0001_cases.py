from decimal import Decimal

import django.core.validators
import django.db.models.deletion
import django.db.models.functions.comparison
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("planning_sync", "0004_connector_supplier"),
        ("purchasing", "0008_document_list_index"),
        ("suppliers", "0006_api_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ExceptionCase",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "type",
                    models.CharField(
                        choices=[
                            ("ack_overdue", "Acknowledgement overdue"),
                            ("proposal_overdue", "Proposal awaiting review"),
                            ("promise_after_need", "Promised after need-by"),
                            ("quantity_short", "Quantity short"),
                            ("price_out_of_tolerance", "Price beyond tolerance"),
                            ("asn_late", "Shipment notice late"),
                            ("asn_mismatch", "Shipment notice differs from PO"),
                            ("shipment_not_received", "Shipment not received"),
                            ("delivery_dead", "Sync failed (dead letter)"),
                            ("supply_risk", "Supply risk"),
                        ],
                        max_length=30,
                    ),
                ),
                (
                    "severity",
                    models.PositiveSmallIntegerField(
                        choices=[(1, "Critical"), (2, "High"), (3, "Medium"), (4, "Low")], default=3
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("open", "Open"),
                            ("in_progress", "In progress"),
                            ("snoozed", "Snoozed"),
                            ("resolved", "Resolved"),
                        ],
                        default="open",
                        max_length=12,
                    ),
                ),
                (
                    "dedupe_key",
                    models.CharField(
                        help_text="Names the condition; at most one unresolved case per key.", max_length=200
                    ),
                ),
                ("title", models.CharField(max_length=200)),
                ("summary", models.TextField(blank=True, help_text="What the rule found, in a sentence or two.")),
                (
                    "due_at",
                    models.DateTimeField(help_text="When the case should be resolved by.", verbose_name="SLA due"),
                ),
                ("snoozed_until", models.DateTimeField(blank=True, null=True)),
                (
                    "resolution_code",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("cleared", "Condition cleared"),
                            ("supplier_fixed", "Supplier corrected it"),
                            ("accepted", "Accepted as is"),
                            ("expedited", "Expedited"),
                            ("resourced", "Sourced elsewhere"),
                            ("demand_changed", "Demand or plan changed"),
                            ("replayed", "Replayed or fixed in the target system"),
                            ("not_an_issue", "Not an issue"),
                        ],
                        max_length=20,
                    ),
                ),
                ("resolution_note", models.TextField(blank=True)),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
                ("details", models.JSONField(blank=True, default=dict)),
                ("opened_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "assignee",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="assigned_cases",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "delivery",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="exception_cases",
                        to="planning_sync.delivery",
                    ),
                ),
                (
                    "item",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="exception_cases",
                        to="purchasing.item",
                    ),
                ),
                (
                    "po",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="exception_cases",
                        to="purchasing.purchaseorder",
                    ),
                ),
                (
                    "po_line",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="exception_cases",
                        to="purchasing.purchaseorderline",
                        verbose_name="PO line",
                    ),
                ),
                (
                    "resolved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "shipment",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="exception_cases",
                        to="purchasing.shipmentnotice",
                        verbose_name="ASN",
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="exception_cases",
                        to="purchasing.site",
                    ),
                ),
                (
                    "supplier",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="exception_cases",
                        to="suppliers.supplier",
                    ),
                ),
            ],
            options={
                "ordering": ["severity", "due_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="CaseActivity",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("opened", "Opened"),
                            ("updated", "Updated by its rule"),
                            ("claimed", "Claimed"),
                            ("assigned", "Assigned"),
                            ("commented", "Commented"),
                            ("snoozed", "Snoozed"),
                            ("woke", "Snooze ended"),
                            ("resolved", "Resolved"),
                            ("cleared", "Resolved itself"),
                            ("action", "Action taken"),
                        ],
                        max_length=12,
                    ),
                ),
                ("note", models.TextField(blank=True)),
                ("data", models.JSONField(blank=True, default=dict)),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="activities",
                        to="exceptions.exceptioncase",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "case activities",
                "ordering": ["at", "id"],
            },
        ),
        migrations.CreateModel(
            name="RuleSetting",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "rule",
                    models.CharField(
                        choices=[
                            ("ack_overdue", "Acknowledgement overdue"),
                            ("proposal_overdue", "Proposal awaiting review"),
                            ("promise_after_need", "Promised after need-by"),
                            ("quantity_short", "Quantity short"),
                            ("price_out_of_tolerance", "Price beyond tolerance"),
                            ("asn_late", "Shipment notice late"),
                            ("asn_mismatch", "Shipment notice differs from PO"),
                            ("shipment_not_received", "Shipment not received"),
                            ("delivery_dead", "Sync failed (dead letter)"),
                            ("supply_risk", "Supply risk"),
                        ],
                        max_length=30,
                    ),
                ),
                (
                    "is_enabled",
                    models.BooleanField(blank=True, help_text="Empty: as the less specific setting.", null=True),
                ),
                (
                    "severity",
                    models.PositiveSmallIntegerField(
                        blank=True, choices=[(1, "Critical"), (2, "High"), (3, "Medium"), (4, "Low")], null=True
                    ),
                ),
                (
                    "sla_hours",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="Time to resolve a case.",
                        null=True,
                        validators=[django.core.validators.MinValueValidator(1)],
                        verbose_name="SLA (hours)",
                    ),
                ),
                (
                    "threshold",
                    models.DecimalField(
                        blank=True,
                        decimal_places=3,
                        help_text="The rule's own measure: see its description.",
                        max_digits=12,
                        null=True,
                        validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                    ),
                ),
                (
                    "grace_days",
                    models.PositiveSmallIntegerField(blank=True, help_text="Days allowed before it fires.", null=True),
                ),
                (
                    "site",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rule_settings",
                        to="purchasing.site",
                    ),
                ),
                (
                    "supplier",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rule_settings",
                        to="suppliers.supplier",
                    ),
                ),
            ],
            options={
                "ordering": ["rule", "supplier", "site"],
            },
        ),
        migrations.AddIndex(
            model_name="exceptioncase",
            index=models.Index(
                condition=models.Q(("status__in", ["open", "in_progress", "snoozed"])),
                fields=["severity", "due_at", "id"],
                name="case_queue_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="exceptioncase",
            index=models.Index(fields=["assignee", "status"], name="case_assignee_idx"),
        ),
        migrations.AddIndex(
            model_name="exceptioncase",
            index=models.Index(fields=["type", "opened_at"], name="case_type_opened_idx"),
        ),
        migrations.AddIndex(
            model_name="exceptioncase",
            index=models.Index(fields=["supplier", "status"], name="case_supplier_idx"),
        ),
        migrations.AddIndex(
            model_name="exceptioncase",
            index=models.Index(fields=["item", "site", "status"], name="case_item_site_idx"),
        ),
        migrations.AddIndex(
            model_name="exceptioncase",
            index=models.Index(
                condition=models.Q(("status", "resolved")), fields=["resolved_at"], name="case_resolved_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="exceptioncase",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["open", "in_progress", "snoozed"])),
                fields=("dedupe_key",),
                name="case_one_unresolved_per_key",
            ),
        ),
        migrations.AddConstraint(
            model_name="exceptioncase",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("resolved_at__isnull", False), ("status", "resolved")),
                    models.Q(("status", "resolved"), _negated=True),
                    _connector="OR",
                ),
                name="case_resolved_has_time",
            ),
        ),
        migrations.AddIndex(
            model_name="caseactivity",
            index=models.Index(fields=["case", "at"], name="case_activity_idx"),
        ),
        migrations.AddConstraint(
            model_name="rulesetting",
            constraint=models.UniqueConstraint(
                models.F("rule"),
                django.db.models.functions.comparison.Coalesce("supplier", 0),
                django.db.models.functions.comparison.Coalesce("site", 0),
                name="rule_setting_unique",
            ),
        ),
    ]
