"""The server settings this feature and the widget's public config read: ids, types and defaults.

Source: ``apps/meteor/server/settings/omnichannel.ts`` and its neighbours, the EE
``livechat-enterprise/server/settings.ts`` and ``app/assets/server/assets.ts`` at 6.13.0, as recorded
in docs/source-notes/identity.md (research branch); see docs/source-notes/identity-model.md.
Values are JavaScript values (every number a float). ``POST /api/v1/settings/:_id`` does not check a
value against the type: it stores what it is sent (``spec.identity``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from spec.model import JsonValue

SettingType = Literal["boolean", "string", "int", "color", "select", "multiSelect", "language", "asset"]


@dataclass(frozen=True)
class SettingDefinition:
    setting_id: str
    type: SettingType
    default: JsonValue
    public: bool = False
    enterprise: bool = False
    """Registered only when the enterprise livechat module runs (a community server has no such id)."""


LIVECHAT_ENABLED = "Livechat_enabled"
LIVECHAT_SECRET_TOKEN = "Livechat_secret_token"
"""Empty: the external-service routes refuse; otherwise sent as ``X-RocketChat-Livechat-Token``."""

SITE_URL = "Site_Url"
"""The base of ``avatarUrl`` in ``/me`` (the server's ``ROOT_URL`` by default)."""
USER_PREFERENCE_PREFIX = "Accounts_Default_User_Preferences_"
"""Each such setting is the default of one user preference; ``/me`` lists them all, in this order."""

# apps/meteor/server/settings/accounts.ts, section Accounts_Default_User_Preferences (the async
# registration version of the index, id 274375625), in registration order. An enterprise server adds
# omnichannelTranscriptPDF; later releases regroup them in subsections (not modelled).
_USER_PREFERENCES: tuple[tuple[str, SettingType, JsonValue], ...] = (
    ("enableAutoAway", "boolean", True),
    ("idleTimeLimit", "int", 300.0),
    ("desktopNotificationRequireInteraction", "boolean", False),
    ("desktopNotifications", "select", "all"),
    ("pushNotifications", "select", "all"),
    ("unreadAlert", "boolean", True),
    ("useEmojis", "boolean", True),
    ("convertAsciiEmoji", "boolean", True),
    ("autoImageLoad", "boolean", True),
    ("saveMobileBandwidth", "boolean", True),
    ("collapseMediaByDefault", "boolean", False),
    ("hideUsernames", "boolean", False),
    ("hideRoles", "boolean", False),
    ("hideFlexTab", "boolean", False),
    ("displayAvatars", "boolean", True),
    ("sidebarGroupByType", "boolean", True),
    ("themeAppearence", "select", "auto"),
    ("sidebarViewMode", "select", "medium"),
    ("sidebarDisplayAvatar", "boolean", True),
    ("sidebarShowUnread", "boolean", False),
    ("sidebarSortby", "select", "activity"),
    ("showThreadsInMainChannel", "boolean", False),
    ("alsoSendThreadToChannel", "select", "default"),
    ("sidebarShowFavorites", "boolean", True),
    ("sendOnEnter", "select", "normal"),
    ("emailNotificationMode", "select", "mentions"),
    ("newRoomNotification", "select", "door"),
    ("newMessageNotification", "select", "chime"),
    ("muteFocusedConversations", "boolean", True),
    ("notificationsSoundVolume", "int", 100.0),
    ("omnichannelTranscriptEmail", "boolean", False),
    ("notifyCalendarEvents", "boolean", True),
)
USER_PREFERENCES = tuple(name for name, _, _ in _USER_PREFERENCES)

_MESSAGE_SETTINGS = (
    "Livechat_offline_message",
    "Livechat_offline_success_message",
    "Livechat_offline_form_unavailable",
    "Livechat_conversation_finished_message",
    "Livechat_conversation_finished_text",
    "Livechat_transcript_message",
    "Livechat_registration_form_message",
    "Livechat_data_processing_consent_text",
)

SETTINGS: tuple[SettingDefinition, ...] = (
    SettingDefinition(LIVECHAT_ENABLED, "boolean", True, public=True),
    SettingDefinition(LIVECHAT_SECRET_TOKEN, "string", ""),
    SettingDefinition("Livechat_title", "string", "Rocket.Chat", public=True),
    SettingDefinition("Livechat_title_color", "color", "#C1272D", public=True),
    SettingDefinition("Livechat_offline_title", "string", "Leave a message", public=True),
    SettingDefinition("Livechat_offline_title_color", "color", "#666666", public=True),
    SettingDefinition("Livechat_widget_position", "select", "right", public=True, enterprise=True),
    SettingDefinition("Livechat_background", "string", "", public=True, enterprise=True),
    SettingDefinition("Livechat_registration_form", "boolean", True, public=True),
    SettingDefinition("Livechat_allow_switching_departments", "boolean", True, public=True),
    SettingDefinition("Livechat_name_field_registration_form", "boolean", True, public=True),
    SettingDefinition("Livechat_email_field_registration_form", "boolean", True, public=True),
    SettingDefinition("Livechat_display_offline_form", "boolean", True, public=True),
    SettingDefinition("Omnichannel_call_provider", "select", "none", public=True),
    SettingDefinition("Livechat_fileupload_enabled", "boolean", True, public=True),
    SettingDefinition("FileUpload_Enabled", "boolean", True, public=True),
    SettingDefinition("Language", "language", "", public=True),
    SettingDefinition("Livechat_enable_transcript", "boolean", False, public=True),
    SettingDefinition("Livechat_history_monitor_type", "select", "url"),
    SettingDefinition("Livechat_force_accept_data_processing_consent", "boolean", False, public=True),
    SettingDefinition("Livechat_show_agent_info", "boolean", True, public=True),
    SettingDefinition("Livechat_clear_local_storage_when_chat_ended", "boolean", False, public=True),
    SettingDefinition("Livechat_enable_message_character_limit", "boolean", False, public=True),
    SettingDefinition("Livechat_message_character_limit", "int", 0.0, public=True),
    SettingDefinition("Message_MaxAllowedSize", "int", 5000.0, public=True),
    SettingDefinition(
        "Livechat_hide_system_messages", "multiSelect", ["uj", "ul", "livechat-close"], enterprise=True
    ),
    SettingDefinition("Assets_livechat_widget_logo", "asset", {}, public=True),
    SettingDefinition("Livechat_hide_watermark", "boolean", False, public=True, enterprise=True),
    SettingDefinition("Omnichannel_allow_visitors_to_close_conversation", "boolean", True, public=True),
    *(SettingDefinition(setting_id, "string", "", public=True) for setting_id in _MESSAGE_SETTINGS),
    SettingDefinition("Livechat_Routing_Method", "select", "Auto_Selection"),
    SettingDefinition("Livechat_accept_chats_with_no_agents", "boolean", False),
    SettingDefinition("Accounts_AllowAnonymousRead", "boolean", False, public=True),
    SettingDefinition(SITE_URL, "string", "http://localhost:3000", public=True),
    *(
        SettingDefinition(USER_PREFERENCE_PREFIX + name, setting_type, default, public=True)
        for name, setting_type, default in _USER_PREFERENCES
    ),
)
"""Every setting the mock knows, in the order listed in the source notes."""

SETTING_DEFINITIONS = {definition.setting_id: definition for definition in SETTINGS}


def default_settings(*, enterprise: bool = True) -> dict[str, JsonValue]:
    """Setting id to default value as a fresh server holds them; ``enterprise=False`` drops the ids
    only the enterprise module registers."""
    return {
        definition.setting_id: _copy(definition.default)
        for definition in SETTINGS
        if enterprise or not definition.enterprise
    }


def _copy(value: JsonValue) -> JsonValue:
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    return value
