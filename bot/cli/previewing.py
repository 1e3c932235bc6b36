"""`announce-bot preview`: the rendered posts of an event, with their length against each platform's limit."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from bot.cli.common import JsonOption, app, console, errors, print_json, state_of
from bot.cli.listing import event_of
from bot.domain import Platform, PostKind, RenderedPost, Step

if TYPE_CHECKING:
    from bot.rendering.pricing import PostPrice


@app.command()
def preview(
    ctx: typer.Context,
    event_id: Annotated[str, typer.Argument(metavar="EVENT", help="the event's id")],
    kind: Annotated[list[PostKind] | None, typer.Option("--kind", "-k", help="only this kind of post (repeatable)")]
    = None,
    platform: Annotated[list[Platform] | None, typer.Option("--platform", "-p", help="only this platform")] = None,
    lang: Annotated[list[str] | None, typer.Option("--lang", "-l", help="only targets in this language (en, ru)")]
    = None,
    as_json: JsonOption = False,
) -> None:
    """Print the rendered posts of an event, with their length against each platform's limit."""
    from bot.delivery import post_price, render_post, step_targets, targets_for
    from bot.errors import ConfigError, FitError
    from bot.rendering.renderer import Renderer

    state = state_of(ctx)
    config = state.config
    event, _ = event_of(state, event_id)
    renderer = Renderer(config.templates_dir)
    steps: list[tuple[str, PostKind, Step | None]] = [
        (step.id, step.kind, step) for step in config.campaign.steps if not kind or step.kind in kind
    ]
    # A kind the campaign does not plan (a change notice) is previewed on all the campaign's platforms.
    steps += [(k.value, k, None) for k in kind or () if all(s.kind is not k for s in config.campaign.steps)]
    failed = False
    shown: list[tuple[str, RenderedPost]] = []
    for label, post_kind, step in steps:
        names = step_targets(config, step) if step else targets_for(config, post_kind)
        for name in names:
            target = config.settings.targets[name]
            if (platform and target.platform not in platform) or (lang and target.lang not in lang):
                continue
            try:
                shown.append((label, render_post(config, renderer, event, post_kind, name, step)))
            except (ConfigError, FitError) as exc:
                errors.print(Text(f"✗ {label} for {name}: {exc}", style="red"))
                failed = True
    if not shown and not failed:
        langs = sorted({t.lang for t in config.settings.targets.values()})
        errors.print(f"no post matches: the campaign's targets are in {', '.join(langs)} on "
                     f"{', '.join(sorted({t.platform.value for t in config.settings.targets.values()}))}")
        raise typer.Exit(1)
    costs = [post_price(config, post) for _, post in shown]
    total = sum((c.total for c in costs if c is not None), Decimal(0))
    if as_json:
        print_json({"event": event.id, "posts": [_post_json(label, post, cost) for (label, post), cost
                                            in zip(shown, costs, strict=True)], "price_usd": str(total)})
    else:
        for (label, post), cost in zip(shown, costs, strict=True):
            print_post(post, label, cost)
        if any(costs):
            console.print(f"X: ${total} for these posts (X bills each post; a post with a link costs more)")
    if failed:
        raise typer.Exit(1)


def _limit(post: RenderedPost, index: int) -> int:
    from bot.platforms import SPECS

    return SPECS[post.platform].part_limit(index - 1, image=bool(post.image))


def _post_json(label: str, post: RenderedPost, cost: PostPrice | None = None) -> dict[str, object]:
    return {"step": label, "kind": post.kind.value, "target": post.target, "platform": post.platform.value,
            "lang": post.lang, "split": post.fitted, "link": post.link, "image": post.image,
            "price_usd": str(cost.total) if cost else None,
            "parts": [{"text": part.text, "length": part.length, "limit": _limit(post, index)}
                      for index, part in enumerate(post.parts, 1)]}


def print_post(post: RenderedPost, label: str, cost: PostPrice | None = None) -> None:
    from bot.platforms import SPECS

    spec = SPECS[post.platform]
    for index, part in enumerate(post.parts, 1):
        title = f"{label} → {post.target} ({spec.label}, {post.lang})"
        if len(post.parts) > 1:
            title += f"  part {index}/{len(post.parts)}"
        subtitle = f"{part.length}/{_limit(post, index)}" + ("  · split to fit" if post.fitted else "")
        if cost is not None:
            subtitle += f"  · ${cost.parts[index - 1]}" + (f" (post ${cost.total})" if len(post.parts) > 1 else "")
        console.print(Panel(Text(part.text), title=title, subtitle=subtitle, title_align="left", expand=False))
