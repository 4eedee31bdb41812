from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class SuppliersConfig(AppConfig):
    name = "suppliers"
    verbose_name = "Suppliers"

    def ready(self) -> None:
        from config import rls

        # The tenant role's grants and policies follow the schema: reapplied after every migrate (and
        # flush), so a table added by a later migration is granted and, if in rls.POLICIES, protected.
        post_migrate.connect(rls.apply_after_migrate, sender=self, dispatch_uid="supplyline-rls")
        # Run by `migrate` before it changes anything, and by `check --database default`.
        checks.register(rls.tenant_role_check, checks.Tags.database)
