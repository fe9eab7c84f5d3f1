"""Images and files in and out: limits, and the on-demand fetch agents use as
``context.media``.

- In: connectors fill :attr:`Message.attachments <agent_runner.message.Message>` with
  references; :class:`MediaFetcher` downloads one when the agent asks (through the outbound
  guard, under :class:`MediaLimits`, with the platform's auth from the connector, an
  :class:`AttachmentResolver`).
- Out: a :class:`~agent_runner.message.Reply` carries :class:`~agent_runner.message.File`
  objects; each output uploads them its platform's way.

See the how-to page "Images and files".
"""

from agent_runner.media.fetcher import (
    AttachmentResolver,
    FetchedFile,
    MediaFetcher,
    ResolvedFile,
    parse_data_url,
)
from agent_runner.media.limits import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TYPES,
    MediaLimits,
    MediaSettings,
    check_upload,
    describe_size,
)
from agent_runner.media.references import (
    META_KEY,
    OMITTED_URL,
    attachments_from_meta,
    attachments_meta,
    is_omitted,
)

__all__ = [
    "AttachmentResolver",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TYPES",
    "FetchedFile",
    "META_KEY",
    "MediaFetcher",
    "MediaLimits",
    "MediaSettings",
    "OMITTED_URL",
    "ResolvedFile",
    "attachments_from_meta",
    "attachments_meta",
    "check_upload",
    "describe_size",
    "is_omitted",
    "parse_data_url",
]
