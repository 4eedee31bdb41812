import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import suppliers.models


class Migration(migrations.Migration):
    dependencies = [
        ("suppliers", "0006_api_keys"),
    ]

    operations = [
        migrations.CreateModel(
            name="ComplianceDocumentType",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                ("description", models.TextField(blank=True)),
                (
                    "is_required",
                    models.BooleanField(
                        default=False,
                        help_text="Every supplier must hold a valid approved one; expiry opens a case.",
                        verbose_name="required",
                    ),
                ),
                (
                    "is_active",
                    models.BooleanField(
                        default=True, help_text="Inactive types take no new uploads.", verbose_name="active"
                    ),
                ),
            ],
            options={
                "verbose_name": "compliance document type",
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="ComplianceDocument",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("file", models.FileField(max_length=200, upload_to=suppliers.models.compliance_upload_to)),
                ("filename", models.CharField(max_length=150)),
                (
                    "content_type",
                    models.CharField(
                        choices=[
                            ("application/pdf", "application/pdf"),
                            ("image/png", "image/png"),
                            ("image/jpeg", "image/jpeg"),
                        ],
                        max_length=40,
                    ),
                ),
                ("size", models.PositiveIntegerField()),
                ("valid_from", models.DateField()),
                ("valid_to", models.DateField()),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Awaiting review"), ("approved", "Approved"), ("rejected", "Rejected")],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("uploaded_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                ("rejection_reason", models.TextField(blank=True)),
                ("reminded_30_at", models.DateTimeField(blank=True, null=True)),
                ("reminded_7_at", models.DateTimeField(blank=True, null=True)),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "supplier",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="compliance_documents",
                        to="suppliers.supplier",
                    ),
                ),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "document_type",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="documents",
                        to="suppliers.compliancedocumenttype",
                    ),
                ),
            ],
            options={
                "ordering": ["-uploaded_at", "-id"],
                "indexes": [
                    models.Index(fields=["status", "uploaded_at", "id"], name="compliance_review_idx"),
                    models.Index(fields=["supplier", "document_type", "valid_to"], name="compliance_supplier_type_idx"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("valid_to__gt", models.F("valid_from"))), name="compliance_valid_range"
                    )
                ],
            },
        ),
    ]
