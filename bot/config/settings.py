"""Settings from `settings.toml`, overridden by ANNOUNCE_BOT_<SECTION>__<KEY> environment variables."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.domain import LangCode, Platform, Url
from bot.platforms import LinkPlacement, XPrices

ENV_PREFIX = "ANNOUNCE_BOT_"


def _readable(path: Path) -> Path:
    """A secret's file must be readable when settings load, not first when the secret is needed."""
    try:
        path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    return path


SecretFile = Annotated[Path, AfterValidator(_readable)]


def read_secret(section: BaseModel, name: str) -> str | None:
    """A secret setting's value: the field `name` (set from the environment) or the file its `<name>_file` names;
    None when neither is set or the value is blank."""
    value: SecretStr | None = getattr(section, name)
    if value is not None:
        return value.get_secret_value().strip() or None
    path: Path | None = getattr(section, f"{name}_file")
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ValueError(f"cannot read {name}_file {str(path)!r}: {exc.strerror}") from None
    return None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TargetBase(_Section):
    """Where posts of one platform go, in which language; secrets only from env or `*_file`."""

    lang: LangCode = "en"
    enabled: bool = True
    api_base_url: Url | None = Field(default=None, description="a self-hosted or test API server")
    timeout: float = Field(default=15.0, gt=0)

    # Names of the fields that hold secrets; each may instead be read from `<name>_file`.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def secret(self, name: str) -> str | None:
        return read_secret(self, name)

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
    token_file: SecretFile | None = None
    pin_live: bool = False
    # Links behind a post's words go through the app's /go/ page (which names where it leads), so that the report can
    # count clicks; Telegram shows the target anyway (its link preview, the address when a link is opened).
    track_clicks: bool = Field(default=True, description="count clicks on the posts' links (needs [web] public_url)")
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)


class VkTarget(_TargetBase):
    platform: Literal[Platform.VK]
    group_id: int = Field(gt=0, description="the community's numeric id (owner_id is its negative)")
    api_version: str = "5.199"
    token: SecretStr | None = None
    token_file: SecretFile | None = None
    # wall.getById (a post's views, likes, reposts, comments) is documented for user and service tokens: the VK app's
    # service key reads the community's public posts. Without it the posting token is tried.
    service_token: SecretStr | None = None
    service_token_file: SecretFile | None = None
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    def secrets(self) -> dict[str, str]:
        found = super().secrets()
        if service := self.secret("service_token"):
            found["service_token"] = service  # scrubbed from logs like the others; not needed to post
        return found

    @property
    def has_credentials(self) -> bool:
        return self.secret("token") is not None


class XTarget(_TargetBase):
    platform: Literal[Platform.X]
    username: str | None = Field(default=None, description="the account's handle, for post links")
    consumer_key: SecretStr | None = None
    consumer_key_file: SecretFile | None = None
    consumer_secret: SecretStr | None = None
    consumer_secret_file: SecretFile | None = None
    access_token: SecretStr | None = None
    access_token_file: SecretFile | None = None
    access_token_secret: SecretStr | None = None
    access_token_secret_file: SecretFile | None = None
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
    """Dzen has no posting API: either an RSS feed Dzen imports (`route = "rss"`, a verified site), or a public
    Telegram channel connected to Dzen's sync bot (`route = "telegram-sync"`: chat_id and the token below)."""

    platform: Literal[Platform.DZEN]
    route: Literal["rss", "telegram-sync"] = Field(
        default="rss", description="rss: a feed Dzen imports; telegram-sync: a channel Dzen's sync bot copies"
    )
    feed_path: Path = Path("var/feeds/dzen.xml")
    site_url: Url = Field(default="https://example.org", description="the website the feed belongs to")
    feed_title: str = "announce-bot"
    draft: bool = Field(default=True, description="native-draft: items arrive as drafts in Dzen Studio")
    post_format: Literal["article", "post"] = "article"
    window_days: int = Field(default=7, gt=0, description="items older than this drop out of the feed")
    feed_url: str | None = Field(
        default=None, description="where Dzen reads this feed (atom:link rel=self); else [web] public_url's"
    )
    # Dzen's unified RSS (2026-07-13): where each item goes. news = Dzen News and the channel, news_only = News
    # only, blogs_only = the channel only (what a feed without contentType meant before).
    content_type: Literal["news", "news_only", "blogs_only"] = "blogs_only"
    track_clicks: bool = Field(default=False, description="count clicks on the articles' links (an RSS feed's links "
                                                          "go through the app's /go/ page; needs [web] public_url)")
    # route = "telegram-sync": the public channel Dzen Studio (Settings -> Crossposting -> Telegram) is connected to.
    chat_id: str | None = Field(default=None, description="@channelname of the channel Dzen's sync bot copies")
    channel_url: str | None = Field(default=None, description="the channel's public link, for post links")
    token: SecretStr | None = None
    token_file: Path | None = None
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    @model_validator(mode="after")
    def _route_needs(self) -> DzenTarget:
        if self.route == "telegram-sync" and not self.chat_id:
            raise ValueError('route = "telegram-sync" needs chat_id: the public channel connected to Dzen')
        return self

    @property
    def has_credentials(self) -> bool:
        # A feed needs none; the sync route needs the bot token of an administrator of the channel.
        return self.route == "rss" or self.secret("token") is not None


class MaxTarget(_TargetBase):
    """A MAX channel or chat the bot administers (dev.max.ru): its numeric id and the bot's token."""

    platform: Literal[Platform.MAX]
    chat_id: str = Field(pattern=r"^-?[0-9]{1,19}$", description="the channel's numeric id, as MAX gives it")
    api_base_url: Url | None = Field(default="https://platform-api2.max.ru", description="MAX's Bot API host")
    # platform-api2.max.ru's certificate chains to the Russian Ministry of Digital Development's root CA, which
    # most systems do not trust: a PEM file with it is trusted for this target on top of the system's roots.
    ca_file: SecretFile | None = Field(default=None, description="a PEM file of extra CAs to trust (the Russian "
                                                                 "Trusted Root CA)")
    token: SecretStr | None = None
    token_file: SecretFile | None = None
    pin_live: bool = False
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)


Target = Annotated[TelegramTarget | VkTarget | XTarget | DzenTarget | MaxTarget, Field(discriminator="platform")]

SECRET_KEYS = frozenset(
    {"token", "service_token", "consumer_key", "consumer_secret", "access_token", "access_token_secret", "password",
     "secret", "webhook_secret", "session_key", "health_token", "metrics_token"}
)


# The databases the bot can open (their drivers are installed): URL schemes, and how to write each.
DATABASE_SCHEMES = frozenset({"sqlite", "sqlite+pysqlite", "postgresql+psycopg"})
SUPPORTED_DATABASES = "SQLite (sqlite:///var/announce-bot.db) or PostgreSQL (postgresql+psycopg://user@host/db)"


class DatabaseSettings(_Section):
    url: str = Field(default="sqlite:///var/announce-bot.db",
                     description="sqlite:///FILE, or postgresql+psycopg://USER@HOST/DB (postgresql:// means the same)")
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported(cls, url: str) -> str:
        scheme, found, rest = url.partition("://")
        if found and scheme in ("postgresql", "postgres"):
            return f"postgresql+psycopg://{rest}"  # psycopg (3) is the PostgreSQL driver the bot installs
        if not found:
            raise ValueError(f"not a database URL; the bot supports {SUPPORTED_DATABASES}")
        if scheme.lower() not in DATABASE_SCHEMES:
            # Only the scheme is repeated: the rest of a URL may hold a password.
            raise ValueError(f"{scheme!r} is not supported; the bot supports {SUPPORTED_DATABASES}")
        return url


class OutboxSettings(_Section):
    dir: Path = Path("var/outbox")


class DeliverySettings(_Section):
    """How the scheduler sends: retries, back-off, leases, and how often it re-reads the event files."""

    max_attempts: int = Field(default=6, ge=1, description="transient failures before a post is given up")
    backoff_base: float = Field(default=10.0, gt=0, description="seconds before the first retry; doubles each time")
    backoff_max: float = Field(default=900.0, gt=0)
    credentials_pause: float = Field(default=900.0, gt=0, description="seconds a target rests after a token fails")
    alert_wait: float = Field(default=300.0, gt=0, description="a platform's wait this long alerts the organiser")
    skip_past: bool = Field(default=True, description="posts already past when first planned are skipped, not late")
    rate_limit: bool = Field(default=True, description="respect each platform's declared message rate")
    shared_database: bool = Field(
        default=False, description="several replicas share the database: only claims older than the lease are stale"
    )
    claim_lease: float = Field(default=300.0, gt=0, description="seconds after which a replica's claim is stale")
    claim_ahead: int = Field(default=100, ge=1, description="posts a process claims ahead of sending them")
    sweep_interval: float = Field(default=15.0, gt=0, description="seconds between checks for due posts")
    reimport_interval: float = Field(default=10.0, gt=0, description="seconds between re-reads of the event files")
    shutdown_grace: float = Field(default=30.0, ge=0, description="seconds in-flight sends get to finish on stop")


class ReachSettings(_Section):
    """Reading back what the posts reached (views, reactions, impressions) and counting the bot's own (clicks, page
    views, calendar downloads), for the report."""

    enabled: bool = Field(default=True, description="read each post's metrics after it went out")
    after_hours: tuple[Annotated[float, Field(gt=0)], ...] = Field(
        default=(1.0, 24.0, 168.0), description="hours after a post went out at which its metrics are read")
    sweep_interval: float = Field(default=300.0, gt=0, description="seconds between checks for readings due")
    # Post reads a day per platform (a read is one post's metrics); a reading over it waits for the next day.
    budget: dict[Platform, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: {Platform.VK: 5000, Platform.X: 100},
        description="post reads a day per platform")
    # X bills every post read (docs.x.com pricing, 2026: Posts: Read, $0.005 per post returned).
    x_price_per_read: Decimal = Field(default=Decimal("0.005"), ge=0, description="US dollars per post read on X")
    x_monthly_cap: Decimal = Field(default=Decimal("5"), ge=0,
                                   description="US dollars a calendar month the bot may spend reading X")
    count_flush: float = Field(default=5.0, ge=0, description="seconds the bot's own counts are kept before written")


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
    # Who signs posts off in Telegram (campaign steps with `approval: required`); empty: the admins above.
    approver_ids: tuple[int, ...] = ()
    approval_ahead: float = Field(default=24.0, gt=0, description="hours before its due time a post is sent to "
                                                                  "the approvers")
    # The same on MAX, by MAX's user ids (a person's ids on the two messengers differ).
    max_user_ids: tuple[int, ...] = ()
    max_approver_ids: tuple[int, ...] = ()

    @property
    def approvers(self) -> tuple[int, ...]:
        return self.approver_ids or self.user_ids

    @property
    def max_approvers(self) -> tuple[int, ...]:
        return self.max_approver_ids or self.max_user_ids


class ChatSettings(_Section):
    """The subscriber bot (bot/chat): which target's token it uses, polling or webhook, flood and broadcast limits."""

    enabled: bool = True
    bot_target: str = Field(default="telegram", description="the Telegram target whose bot token answers people")
    max_target: str = Field(default="max", description="the MAX target whose bot answers people on MAX (none "
                                                       "without a token)")
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: Url | None = Field(default=None, description="the public HTTPS URL Telegram posts updates to")
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, gt=0, lt=65536)
    webhook_path: str = Field(default="telegram", pattern=r"^[A-Za-z0-9_/-]{0,100}$")
    webhook_secret: SecretStr | None = Field(default=None, description="from the environment only")
    webhook_secret_file: SecretFile | None = None
    flood_burst: int = Field(default=8, ge=1, description="messages a person may send at once")
    flood_rate: float = Field(default=1.0, gt=0, description="messages per second a person may keep sending")
    page_size: int = Field(default=5, ge=1, le=20)
    broadcast_rate: float = Field(
        default=30.0, gt=0, le=1000,
        description="personal reminders per second, overall; above Telegram's free 30/s only with paid_broadcast",
    )
    paid_broadcast: bool = Field(
        default=False,
        description="send reminders with allow_paid_broadcast: up to 1000/s, 0.1 Star a message above 30/s",
    )
    broadcast_batch: int = Field(default=200, ge=1, description="reminders claimed at a time")
    reminder_kinds: tuple[str, ...] = ("reminder", "live")
    reminder_sweep: float = Field(default=20.0, gt=0, description="seconds between checks for due reminders")

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith("https://"):
            raise ValueError(f"Telegram sends updates to an https:// URL only, got {url!r}")
        return url

    def secret(self) -> str | None:
        return read_secret(self, "webhook_secret")


class WebSettings(_Section):
    """The web app (dashboard, public pages, feeds) that `run` and `web` serve; its secrets from env or file only."""

    enabled: bool = Field(default=True, description="`announce-bot run` also serves the web app")
    host: str = Field(default="127.0.0.1", description="the address to listen on")
    port: int = Field(default=8080, ge=0, lt=65536, description="0 picks a free port")
    public_url: str | None = Field(
        default=None,
        description="the app's address as the public reaches it: absolute links in pages, feeds, calendars, cards "
        "come from it alone (never from a request's Host); unset, pages and feeds link relatively",
    )
    site_title: str | None = Field(default=None, description="else the Dzen feed's title, else 'Events'")
    password: SecretStr | None = Field(default=None, description="the dashboard's; from the environment only")
    password_file: SecretFile | None = None
    session_hours: float = Field(default=12.0, gt=0, description="how long a dashboard login lasts")

    # Dashboard security (issue 16). Every secret below may instead be read from `<name>_file`.
    session_key: SecretStr | None = Field(
        default=None, description="signs session cookies (32+ characters); else one is made and kept in the database"
    )
    session_key_file: Path | None = None
    trusted_proxies: tuple[IPvAnyNetwork, ...] = Field(
        default=(), description="addresses/networks of reverse proxies whose X-Forwarded-For/-Proto are believed"
    )
    login_delay: float = Field(default=1.0, gt=0, description="seconds a first failed login costs; doubles each time")
    login_delay_max: float = Field(default=60.0, gt=0, description="the longest wait a failed login imposes")
    login_memory: float = Field(default=900.0, gt=0, description="seconds after which failed logins are forgotten")
    health_token: SecretStr | None = Field(default=None, description="bearer token for /healthz's details")
    health_token_file: Path | None = None
    metrics_token: SecretStr | None = Field(default=None, description="bearer token /metrics asks for, when set")
    metrics_token_file: Path | None = None
    telegram_login: str | None = Field(
        default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{3,31}$",
        description="the bot's username: offers sign-in with Telegram (the domain set with BotFather's /setdomain)",
    )
    telegram_login_target: str = Field(default="telegram", description="the Telegram target whose token is that bot's")
    telegram_login_max_age: float = Field(default=300.0, gt=0, description="seconds Telegram's signed data stays good")

    # The event editor (issue 14): uploaded cover images, served by the app at /covers/<file>.
    covers_dir: Path = Field(default=Path("var/covers"), description="where uploaded cover images are kept")
    cover_max_bytes: int = Field(
        default=5_000_000, gt=0, description="the largest cover upload; Telegram fetches photos of up to 5 MB by URL"
    )

    def secret(self) -> str | None:
        """The dashboard password (ANNOUNCE_BOT_WEB__PASSWORD or `password_file`); None: the dashboard is locked."""
        return self.secret_value("password")

    def secret_value(self, name: str) -> str | None:
        """One of the web app's secrets (password, session_key, health_token, metrics_token), from env or file."""
        return read_secret(self, name)

    def secrets(self) -> list[str]:
        found = (self.secret_value(name) for name in ("password", "session_key", "health_token", "metrics_token"))
        return [value for value in found if value]


HexColour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]


class BrandingSettings(_Section):
    """How generated event cards (bot/images) look, and the language of pages and feeds without `?lang=`."""

    name: str | dict[LangCode, str] | None = Field(
        default=None, description="the organisation's name on cards ({en: ..., ru: ...}); else the site title"
    )
    lang: LangCode = Field(default="en", description="the language of /events and /feeds/events.rss by default")
    background: HexColour = "#0f2b46"
    accent: HexColour = "#d9a441"
    text: HexColour = "#ffffff"
    logo: Path | None = Field(default=None, description="a PNG or JPEG, drawn top left on every card")
    font: Path | None = Field(default=None, description="a brand typeface (TTF/OTF), tried before the bundled Noto")
    font_bold: Path | None = Field(default=None, description="its bold face, for titles (else `font`)")
    cards_dir: Path = Field(default=Path("var/cards"), description="where generated cards are cached")


class OrganisationSettings(_Section):
    """Who runs this bot, named as the chat bot's texts say it in a sentence, per language."""

    name: dict[LangCode, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict,
        description='English with its article, Russian in the nominative: {en = "the Valdai Discussion Club", '
        'ru = "Международный дискуссионный клуб «Валдай»"}',
    )

    title: dict[LangCode, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict,
        description='the name as a heading, per language: the public pages\' site name, link cards, the organiser '
        'in search engines\' Event data: {en = "Valdai Discussion Club", ru = "Клуб «Валдай»"}',
    )
    url: dict[LangCode, Url] = Field(
        default_factory=dict,
        description='the organisation\'s own site per language: {en = "https://valdaiclub.com", '
        'ru = "https://ru.valdaiclub.com"}',
    )

    def name_in(self, lang: str) -> str | None:
        """The name in `lang`; None when it is not given in that language (a greeting then names nobody)."""
        return self.name.get(lang)

    def url_in(self, lang: str) -> str | None:
        """The site in `lang`, else in English, else any given; None when there is none."""
        return self.url.get(lang) or self.url.get("en") or next(iter(self.url.values()), None)


class Settings(BaseSettings):
    """All settings. Relative paths are relative to the working directory."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True, case_sensitive=False
    )

    database: DatabaseSettings = DatabaseSettings()
    outbox: OutboxSettings = OutboxSettings()
    delivery: DeliverySettings = DeliverySettings()
    reach: ReachSettings = ReachSettings()
    logging: LoggingSettings = LoggingSettings()
    admin: AdminSettings = AdminSettings()
    chat: ChatSettings = ChatSettings()
    web: WebSettings = WebSettings()
    branding: BrandingSettings = BrandingSettings()
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

    @model_validator(mode="after")
    def _dzen_feed_urls(self) -> Settings:
        # A feed names its own address (atom:link rel=self) as the web app serves it: the first feed at
        # /feeds/dzen.xml (its /feeds/dzen/<name>.xml redirects there), any other at /feeds/dzen/<name>.xml.
        base = (self.web.public_url or "").rstrip("/")
        if not base:
            return self
        feeds = [name for name, target in self.targets.items()
                 if isinstance(target, DzenTarget) and target.route == "rss" and target.enabled]
        targets = dict(self.targets)
        for name in feeds:
            target = targets[name]
            if isinstance(target, DzenTarget) and not target.feed_url:
                url = f"{base}/feeds/dzen.xml" if name == feeds[0] else f"{base}/feeds/dzen/{name}.xml"
                targets[name] = target.model_copy(update={"feed_url": url})
        object.__setattr__(self, "targets", targets)  # frozen: set once, while validating
        return self

    def targets_of(self, platform: Platform) -> dict[str, Any]:
        return {name: t for name, t in self.targets.items() if t.platform == platform and t.enabled}

    def all_secrets(self) -> list[str]:
        """Every configured secret value, so that logs and errors can be scrubbed of them."""
        found = [value for target in self.targets.values() for value in target.secrets().values()]
        return [*found, *filter(None, [self.chat.secret()]), *self.web.secrets()]
