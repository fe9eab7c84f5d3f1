"""MediaFetcher against a real file server on 127.0.0.1: the outbound guard, the size and
type limits (announced and actual), data: URLs, and what a model endpoint gets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from agent_runner.errors import MediaError, OutboundRefusedError
from agent_runner.media import MediaFetcher, MediaLimits, ResolvedFile
from agent_runner.message import Attachment
from agent_runner.outbound import OutboundGuard
from tests.media.images import png

PNG = png()


async def _file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name == "photo.png":
        return web.Response(body=PNG, content_type="image/png")
    if name == "tool.exe":
        return web.Response(body=b"MZ", content_type="application/x-msdownload")
    if name == "secret.png":
        if request.headers.get("Authorization") != "Bearer xoxb-secret":
            return web.Response(status=403)
        return web.Response(body=PNG, content_type="image/png")
    if name == "endless.png":  # no Content-Length: only the count of bytes read stops it
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"x" * 1024)
        await response.write_eof()
        return response
    if name == "redirect.png":
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
    return web.Response(status=404)


@pytest.fixture
async def files() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/{name}", _file)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def fetcher(**options: object) -> MediaFetcher:
    options.setdefault("guard", OutboundGuard.build(["127.0.0.1"]))
    options.setdefault("limits", MediaLimits(max_bytes=16 * 1024, types=("image/*",)))
    return MediaFetcher(**options)  # type: ignore[arg-type]


async def test_an_attachment_is_fetched_with_its_type(files: str) -> None:
    fetched = await fetcher().fetch(Attachment(url=f"{files}/photo.png", filename="photo.png"))
    assert (fetched.data, fetched.content_type, fetched.name) == (PNG, "image/png", "photo.png")
    assert fetched.data_url().startswith("data:image/png;base64,iVBOR")


async def test_an_attachment_on_a_private_address_is_refused(files: str) -> None:
    guard = OutboundGuard()  # the default: public addresses only
    with pytest.raises(OutboundRefusedError, match=r"^photo.png: 127.0.0.1 is a loopback"):
        await fetcher(guard=guard).fetch(Attachment(url=f"{files}/photo.png", filename="photo.png"))
    with pytest.raises(OutboundRefusedError, match="link-local"):
        await fetcher(guard=guard).fetch(Attachment(url="http://169.254.169.254/latest/x.png"))


async def test_a_redirect_to_a_private_address_is_refused(files: str) -> None:
    with pytest.raises(OutboundRefusedError, match="169.254.169.254 is a link-local"):
        await fetcher().fetch(Attachment(url=f"{files}/redirect.png"))


async def test_a_type_not_accepted_is_refused_clearly(files: str) -> None:
    with pytest.raises(MediaError) as refused:
        await fetcher().fetch(Attachment(url=f"{files}/tool.exe", filename="tool.exe"))
    assert str(refused.value) == (
        "tool.exe: type application/x-msdownload is not accepted (accepted: image/*)"
    )


async def test_an_announced_size_over_the_limit_is_refused_before_any_request() -> None:
    big = Attachment(url="http://127.0.0.1:9/never", filename="huge.png", size=10 * 1024 * 1024)
    with pytest.raises(MediaError, match=r"^huge.png: 10.0 MiB is over the limit of 16384 bytes"):
        await fetcher().fetch(big)


async def test_a_download_past_the_limit_is_cut_off(files: str) -> None:
    with pytest.raises(MediaError, match="over the limit of 16384 bytes .stopped downloading."):
        await fetcher().fetch(Attachment(url=f"{files}/endless.png", filename="endless.png"))


async def test_a_platform_resolver_adds_auth_and_the_model_gets_the_bytes(files: str) -> None:
    class Slackish:
        name = "slack"

        async def resolve_attachment(self, attachment: Attachment) -> ResolvedFile:
            return ResolvedFile(url=attachment.url, headers={"Authorization": "Bearer xoxb-secret"})

    media = fetcher(resolvers={"slack": Slackish()}).for_source("slack")
    attachment = Attachment(url=f"{files}/secret.png", filename="secret.png")
    assert (await media.fetch(attachment)).data == PNG
    url = await media.model_url(attachment)
    assert url.startswith("data:image/png;base64,")
    assert "xoxb" not in repr(await media.resolve(attachment))
    with pytest.raises(MediaError, match=r"^secret.png: the file server answered HTTP 403$"):
        await fetcher().fetch(attachment)  # another source: no auth


async def test_public_and_data_urls_go_to_the_model_as_they_are(files: str) -> None:
    public = Attachment(url=f"{files}/photo.png")
    assert await fetcher().model_url(public) == public.url
    inline = Attachment(url="data:image/png;base64,aGk=")
    assert await fetcher().model_url(inline) == inline.url
    fetched = await fetcher().fetch(inline)
    assert (fetched.data, fetched.content_type) == (b"hi", "image/png")
    with pytest.raises(MediaError, match="invalid base64"):
        await fetcher().fetch(Attachment(url="data:image/png;base64,@@@"))


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_RUNNER_MEDIA_MAX_BYTES", "2048")
    monkeypatch.setenv("AGENT_RUNNER_MEDIA_TYPES", "image/png, application/pdf")
    limits = MediaLimits.from_env()
    assert limits == MediaLimits(max_bytes=2048, types=("image/png", "application/pdf"))
    assert limits.type_allowed("image/png; charset=binary") and not limits.type_allowed("image/gif")
