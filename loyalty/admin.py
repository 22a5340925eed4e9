from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from loyalty import services
from loyalty.models import ApiClient


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """Credentials for the merchant's order system.

    The secret is generated here and shown once, in the confirmation message;
    it is stored encrypted and never displayed again (rotate to get a new one).
    """

    list_display = ["name", "key_id", "is_active", "created_at", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "key_id"]
    readonly_fields = ["key_id", "created_at", "last_used_at"]
    actions = ["rotate_secret"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        secret = services.api_client_issue_secret(client=obj)
        messages.warning(
            request,
            _("Key ID %(key)s, secret %(secret)s — copy the secret now, it will not be shown again.")
            % {"key": obj.key_id, "secret": secret},
        )

    @admin.action(description=_("Rotate the secret of the selected clients"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        for client in queryset:
            secret = services.api_client_issue_secret(client=client)
            self.log_change(request, client, _("Rotated the secret."))
            messages.warning(
                request, _("New secret for %(key)s: %(secret)s") % {"key": client.key_id, "secret": secret}
            )
