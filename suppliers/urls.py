from django.urls import path

from suppliers import views, views_compliance, views_scorecards, views_team
from suppliers import views_self_service as self_service

app_name = "suppliers"

urlpatterns = [
    path("supplier/", views.supplier_home, name="supplier-home"),
    path("buyer/", views.buyer_home, name="buyer-home"),
    path("settings/notifications/", views.notification_settings, name="notification-settings"),
    path("settings/api-keys/", views.api_key_list, name="api-key-list"),
    path("settings/api-keys/new/", views.api_key_create, name="api-key-create"),
    path("settings/api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api-key-revoke"),
    # The supplier's team, invitations, and which supplier a user acts for (docs/organisations.md)
    path("team/", views_team.team_page, name="team"),
    path("team/invite/", views_team.invitation_create, name="invitation-create"),
    path("team/invitations/<int:pk>/resend/", views_team.invitation_resend, name="invitation-resend"),
    path("team/invitations/<int:pk>/revoke/", views_team.invitation_revoke, name="invitation-revoke"),
    path("team/members/<int:pk>/role/", views_team.membership_role, name="membership-role"),
    path("team/members/<int:pk>/deactivate/", views_team.membership_deactivate, name="membership-deactivate"),
    path("team/members/<int:pk>/reactivate/", views_team.membership_reactivate, name="membership-reactivate"),
    path("invitations/<str:token>/", views_team.invitation_accept, name="invitation-accept"),
    path("settings/active-supplier/", views_team.active_supplier_set, name="active-supplier-set"),
    path("suppliers/<str:code>/members/", views_team.supplier_members, name="supplier-members"),
    # Compliance documents
    path("compliance/", views_compliance.compliance_overview, name="compliance-overview"),
    path("compliance/upload/", views_compliance.compliance_upload, name="compliance-upload"),
    path("compliance/review/", views_compliance.compliance_queue, name="compliance-queue"),
    path("compliance/suppliers/<str:code>/", views_compliance.compliance_supplier, name="compliance-supplier"),
    path("compliance/documents/<int:pk>/", views_compliance.compliance_document, name="compliance-document"),
    path("compliance/documents/<int:pk>/download/", views_compliance.compliance_download, name="compliance-download"),
    path("compliance/documents/<int:pk>/review/", views_compliance.compliance_review, name="compliance-review"),
    # Self-service: company profile, contacts, ship-from addresses, item terms (docs/self-service.md)
    path("profile/", self_service.profile_home, name="profile-home"),
    path("suppliers/<str:code>/", self_service.profile, name="profile"),
    path("suppliers/<str:code>/edit/", self_service.profile_edit, name="profile-edit"),
    path("suppliers/<str:code>/contacts/new/", self_service.contact_create, name="contact-create"),
    path("suppliers/<str:code>/contacts/<int:pk>/", self_service.contact_edit, name="contact-edit"),
    path("suppliers/<str:code>/contacts/<int:pk>/delete/", self_service.contact_delete, name="contact-delete"),
    path("suppliers/<str:code>/addresses/new/", self_service.address_create, name="address-create"),
    path("suppliers/<str:code>/addresses/<int:pk>/", self_service.address_edit, name="address-edit"),
    path(
        "suppliers/<str:code>/addresses/<int:pk>/deactivate/",
        self_service.address_deactivate,
        name="address-deactivate",
    ),
    path("suppliers/<str:code>/items/", self_service.supplier_items, name="supplier-items"),
    path("suppliers/<str:code>/items/<int:pk>/terms/", self_service.terms_propose, name="terms-propose"),
    path("terms-proposals/", self_service.terms_proposal_list, name="terms-proposal-list"),
    path("terms-proposals/<int:pk>/decide/", self_service.terms_proposal_decide, name="terms-proposal-decide"),
    # Scorecards
    path("scorecards/", views_scorecards.scorecard_list, name="scorecard-list"),
    path("scorecards/<str:code>/", views_scorecards.scorecard_detail, name="scorecard-detail"),
    path("scorecards/<str:code>/export.csv", views_scorecards.scorecard_export, name="scorecard-export"),
]
