from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("exceptions", "0004_erp_manual_change"),
    ]

    operations = [
        migrations.AlterField(
            model_name="exceptioncase",
            name="type",
            field=models.CharField(
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
                    ("erp_manual_change", "Change to make in the ERP"),
                    ("compliance_expired", "Compliance document expired"),
                ],
                max_length=30,
            ),
        ),
        migrations.AlterField(
            model_name="rulesetting",
            name="rule",
            field=models.CharField(
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
                    ("erp_manual_change", "Change to make in the ERP"),
                    ("compliance_expired", "Compliance document expired"),
                ],
                max_length=30,
            ),
        ),
    ]
