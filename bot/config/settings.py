"""Settings from `settings.toml`, overridden by ANNOUNCE_BOT_<SECTION>__<KEY> environment variables."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.domain import LangCode, Platform
from bot.platforms import LinkPlacement, XPrices

ENV_PREFIX = "ANNOUNCE_BOT_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TargetBase(_Section):
    """Where posts of one platform go, in which language; secrets only from env or `*_file`."""

    lang: LangCode = "en"
    enabled: bool = True
    api_base_url: str | None = Field(default=None, description="a self-hosted or test API server")
    timeout: float = Field(default=15.0, gt=0)

    # Names of the fields that hold secrets; each may instead be read from `<name>_file`.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def secret(self, name: str) -> str | None:
        value: SecretStr | None = getattr(self, name)
        if value is not None:
            return value.get_secret_value().strip() or None
        path: Path | None = getattr(self, f"{name}_file")
        if path is not None:
            try:
                return path.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ValueError(f"cannot read {name}_file {str(path)!r}: {exc.strerror}") from None
        return None

    def secrets(self) -> dict[str, str]:
        found = {name: self.secret(name) for name in self.secret_fields}
        return {name: value for name, value in found.items() if value}

    @property
    def has_credentials(self) -> bool:
        return len(self.secrets()) == len(self.secret_fields)


class TelegramTarget(_TargetBase):
    platform: Literal[Platform.TELEGRAM]
    chat_id: str = Field(description="@channelname or a numeric chat id")
    url: str | None = Field(default=None, description="public link of the channel, for post links")
    token: SecretStr | None = None
    token_file: Path | None = None
    pin_live: bool = False
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)


class VkTarget(_TargetBase):
    platform: Literal[Platform.VK]
    group_id: int = Field(gt=0, description="the community's numeric id (owner_id is its negative)")
    api_version: str = "5.199"
    token: SecretStr | None = None
    token_file: Path | None = None
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)


class XTarget(_TargetBase):
    platform: Literal[Platform.X]
    username: str | None = Field(default=None, description="the account's handle, for post links")
    consumer_key: SecretStr | None = None
    consumer_key_file: Path | None = None
    consumer_secret: SecretStr | None = None
    consumer_secret_file: Path | None = None
    access_token: SecretStr | None = None
    access_token_file: Path | None = None
    access_token_secret: SecretStr | None = None
    access_token_secret_file: Path | None = None
    secret_fields: ClassVar[tuple[str, ...]] = (
        "consumer_key", "consumer_secret", "access_token", "access_token_secret"
    )
    # X bills every post created (docs.x.com pricing, 2026); `plan`, `preview` and the dashboard show the cost.
    price_per_post: Decimal = Field(default=XPrices().per_post, ge=0, description="US dollars per post created")
    price_per_post_with_url: Decimal = Field(
        default=XPrices().per_post_with_url, ge=0, description="US dollars per post that contains a URL"
    )
    link_placement: LinkPlacement = Field(
        default=LinkPlacement.LAST,
        description="where the event's link goes in a thread: every post, the last one, or none (the card carries it)",
    )

    @property
    def prices(self) -> XPrices:
        return XPrices(per_post=self.price_per_post, per_post_with_url=self.price_per_post_with_url)


class DzenTarget(_TargetBase):
    platform: Literal[Platform.DZEN]
    feed_path: Path = Path("var/feeds/dzen.xml")
    site_url: str = Field(default="https://example.org", description="the website the feed belongs to")
    feed_title: str = "announce-bot"
    draft: bool = Field(default=True, description="native-draft: items arrive as drafts in Dzen Studio")
    post_format: Literal["article", "post"] = "article"
    window_days: int = Field(default=7, gt=0, description="items older than this drop out of the feed")


Target = Annotated[TelegramTarget | VkTarget | XTarget | DzenTarget, Field(discriminator="platform")]

SECRET_KEYS = frozenset(
    {"token", "consumer_key", "consumer_secret", "access_token", "access_token_secret", "password", "secret",
     "webhook_secret"}
)


class DatabaseSettings(_Section):
    url: str = "sqlite:///var/announce-bot.db"
    echo: bool = False


class OutboxSettings(_Section):
    dir: Path = Path("var/outbox")


class DeliverySettings(_Section):
    """How the scheduler sends: retries, back-off, leases, and how often it re-reads the event files."""

    max_attempts: int = Field(default=6, ge=1, description="transient failures before a post is given up")
    backoff_base: float = Field(default=10.0, gt=0, description="seconds before the first retry; doubles each time")
    backoff_max: float = Field(default=900.0, gt=0)
    credentials_pause: float = Field(default=900.0, gt=0, description="seconds a target rests after a token fails")
    rate_limit: bool = Field(default=True, description="respect each platform's declared message rate")
    shared_database: bool = Field(
        default=False, description="several replicas share the database: only claims older than the lease are stale"
    )
    claim_lease: float = Field(default=300.0, gt=0, description="seconds after which a replica's claim is stale")
    sweep_interval: float = Field(default=15.0, gt=0, description="seconds between checks for due posts")
    reimport_interval: float = Field(default=10.0, gt=0, description="seconds between re-reads of the event files")
    shutdown_grace: float = Field(default=30.0, ge=0, description="seconds in-flight sends get to finish on stop")


class LoggingSettings(_Section):
    """How the bot logs: plain lines for a terminal, or one JSON object a line for a log collector."""

    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = Field(
        default=None, description="overrides --log-level when set"
    )


class AdminSettings(_Section):
    """Where failures that need a person are reported, besides the log."""

    chat_id: str | None = Field(default=None, description="a Telegram chat for alerts, sent by `bot_target`")
    bot_target: str = Field(default="telegram", description="the Telegram target whose token sends the alerts")
    user_ids: tuple[int, ...] = ()


class ChatSettings(_Section):
    """The subscriber bot (bot/chat): which target's token it uses, polling or webhook, flood and broadcast limits."""

    enabled: bool = True
    bot_target: str = Field(default="telegram", description="the Telegram target whose bot token answers people")
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = Field(default=None, description="the public HTTPS URL Telegram posts updates to")
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, gt=0, lt=65536)
    webhook_path: str = Field(default="telegram", pattern=r"^[A-Za-z0-9_/-]{0,100}$")
    webhook_secret: SecretStr | None = Field(default=None, description="from the environment only")
    webhook_secret_file: Path | None = None
    flood_burst: int = Field(default=8, ge=1, description="messages a person may send at once")
    flood_rate: float = Field(default=1.0, gt=0, description="messages per second a person may keep sending")
    page_size: int = Field(default=5, ge=1, le=20)
    broadcast_rate: float = Field(default=30.0, gt=0, description="personal reminders per second, overall")
    per_chat_interval: float = Field(default=1.0, ge=0, description="seconds between two messages to one chat")
    broadcast_batch: int = Field(default=200, ge=1, description="reminders claimed at a time")
    reminder_kinds: tuple[str, ...] = ("reminder", "live")
    reminder_sweep: float = Field(default=20.0, gt=0, description="seconds between checks for due reminders")

    def secret(self) -> str | None:
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value().strip() or None
        if self.webhook_secret_file is not None:
            try:
                return self.webhook_secret_file.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ValueError(f"cannot read webhook_secret_file: {exc.strerror}") from None
        return None


class WebSettings(_Section):
    """The web app (dashboard, public pages, feeds) that `run` and `web` serve; its password from env or file only."""

    enabled: bool = Field(default=True, description="`announce-bot run` also serves the web app")
    host: str = Field(default="127.0.0.1", description="the address to listen on")
    port: int = Field(default=8080, ge=0, lt=65536, description="0 picks a free port")
    public_url: str | None = Field(
        default=None, description="the app's address as the public reaches it, for links in feeds (else the request's)"
    )
    site_title: str | None = Field(default=None, description="else the Dzen feed's title, else 'Events'")
    password: SecretStr | None = Field(default=None, description="the dashboard's; from the environment only")
    password_file: Path | None = None
    session_hours: float = Field(default=12.0, gt=0, description="how long a dashboard login lasts")

    def secret(self) -> str | None:
        """The dashboard password (ANNOUNCE_BOT_WEB__PASSWORD or `password_file`); None: the dashboard is locked."""
        if self.password is not None:
            return self.password.get_secret_value().strip() or None
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ValueError(f"cannot read password_file: {exc.strerror}") from None
        return None


class OrganisationSettings(_Section):
    """Who runs this bot, named as the chat bot's texts say it in a sentence, per language."""

    name: dict[LangCode, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict,
        description='English with its article, Russian in the nominative: {en = "the Valdai Discussion Club", '
        'ru = "Международный дискуссионный клуб «Валдай»"}',
    )

    def name_in(self, lang: str) -> str | None:
        """The name in `lang`; None when it is not given in that language (a greeting then names nobody)."""
        return self.name.get(lang)


class Settings(BaseSettings):
    """All settings. Relative paths are relative to the working directory."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True, case_sensitive=False
    )

    database: DatabaseSettings = DatabaseSettings()
    outbox: OutboxSettings = OutboxSettings()
    delivery: DeliverySettings = DeliverySettings()
    logging: LoggingSettings = LoggingSettings()
    admin: AdminSettings = AdminSettings()
    chat: ChatSettings = ChatSettings()
    web: WebSettings = WebSettings()
    organisation: OrganisationSettings = OrganisationSettings()
    templates_dir: Path | None = None
    targets: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")], Target] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file (passed as init values); nothing else is read.
        return env_settings, init_settings

    def targets_of(self, platform: Platform) -> dict[str, Any]:
        return {name: t for name, t in self.targets.items() if t.platform == platform and t.enabled}

    def all_secrets(self) -> list[str]:
        """Every configured secret value, so that logs and errors can be scrubbed of them."""
        found = [value for target in self.targets.values() for value in target.secrets().values()]
        return [*found, *filter(None, [self.chat.secret(), self.web.secret()])]
