"""What each endpoint of the fake X answers, as pure functions of the request and the data.

Each returns ``(status, JSON body)`` as X API v2 shapes it, or raises: :class:`Problem` for a
refusal (answered as X's problem body), :class:`~agent_runner.testing.x.timeline.InvalidParameter`
for a bad query parameter (answered 400). ``users`` is the fake's accounts by lowercase
username.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from agent_runner.testing.x.timeline import (
    EXPANSIONS,
    MEDIA_FIELDS,
    TWEET_FIELDS,
    USER_FIELDS,
    FakeTweet,
    FakeUser,
    InvalidParameter,
    Pager,
    check_fields,
    csv,
    int_param,
    mentions_user,
    page,
)

if TYPE_CHECKING:
    from agent_runner.testing.x.limits import RateLimits
    from agent_runner.testing.x.media import FakeMedia

MAX_CODE_POINTS = 280
"""The longest tweet text the fake accepts (X counts weighted characters; this is a bound)."""
Answer = tuple[int, Any]


class Problem(Exception):
    """A refusal: ``status`` with X's problem body (``title``, ``detail``)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def problem(status: int, title: str, detail: str) -> Answer:
    """X's problem body for a refusal."""
    return status, {"title": title, "detail": detail, "type": "about:blank", "status": status}


def invalid_request(exc: InvalidParameter) -> dict[str, Any]:
    """X's 400 body for an invalid query parameter."""
    return {
        "errors": [{"parameters": {exc.parameter: [exc.value]}, "message": str(exc)}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def refusal(
    auth: str | None, endpoint: str, *, allow_bearer: bool, limits: RateLimits, now: float
) -> tuple[int, Any, dict[str, str]] | None:
    """Status, body and headers of a request refused before its endpoint answers (no or
    wrong auth, a failure a test forced, a spent rate-limit window), or None."""
    if auth is None:
        return *problem(401, "Unauthorized", "Unauthorized"), {}
    if auth == "bearer" and not allow_bearer:
        return (
            *problem(
                403,
                "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint."
                "  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User "
                "Context].",
            ),
            {},
        )
    forced = limits.take_forced(endpoint)
    if forced is not None and forced.status == 429:  # a spent window; the real one is untouched
        headers = {
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(now + forced.reset_in)),
        }
        return *problem(429, "Too Many Requests", "Too Many Requests"), headers
    if forced is not None:
        return *problem(forced.status, "Service Unavailable", "Try later"), {}
    if limits.window(endpoint).remaining <= 0:
        return *problem(429, "Too Many Requests", "Too Many Requests"), {}
    return None


def handled(handle: Callable[[str, Any], Answer], auth: str, body: Any) -> Answer:
    """``handle``'s answer, or X's 400 or problem body for what it refused."""
    try:
        return handle(auth, body)
    except InvalidParameter as exc:
        return 400, invalid_request(exc)
    except Problem as exc:
        return problem(exc.status, exc.title, exc.detail)


def user_answer(query: Mapping[str, str], user: FakeUser) -> Answer:
    """``GET /2/users/me``."""
    fields = csv(query.get("user.fields"))
    check_fields("user.fields", fields, USER_FIELDS)
    return 200, {"data": user.render(fields)}


def user_by_id_answer(
    query: Mapping[str, str], wanted: str, users: Mapping[str, FakeUser]
) -> Answer:
    """``GET /2/users/:id``: an unknown id is a 200 with ``errors``, as on X."""
    fields = csv(query.get("user.fields"))
    check_fields("user.fields", fields, USER_FIELDS)
    user = next((u for u in users.values() if u.id == wanted), None)
    if user is None:
        return 200, {
            "errors": [
                {
                    "value": wanted,
                    "detail": f"Could not find user with id: [{wanted}].",
                    "title": "Not Found Error",
                    "resource_type": "user",
                    "parameter": "id",
                    "resource_id": wanted,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            ]
        }
    return 200, {"data": user.render(fields)}


def mentions_answer(
    query: Mapping[str, str],
    user_id: str,
    *,
    users: Mapping[str, FakeUser],
    tweets: Iterable[FakeTweet],
    pager: Pager,
    authored: bool = False,
    media: Mapping[str, FakeMedia] | None = None,
    base_url: str = "",
) -> Answer:
    """``GET /2/users/:id/mentions`` (or, ``authored``, ``GET /2/users/:id/tweets``: the
    user's own tweets): one page, newest first, with the expanded users and media
    (``media`` by key; their URLs start with ``base_url``)."""
    user = next((u for u in users.values() if u.id == user_id), None)
    if user is None:
        raise Problem(404, "Not Found Error", "Could not find user")
    tweet_fields = csv(query.get("tweet.fields"))
    user_fields = csv(query.get("user.fields"))
    expansions = csv(query.get("expansions"))
    media_fields = csv(query.get("media.fields"))
    check_fields("tweet.fields", tweet_fields, TWEET_FIELDS)
    check_fields("user.fields", user_fields, USER_FIELDS)
    check_fields("expansions", expansions, EXPANSIONS)
    check_fields("media.fields", media_fields, MEDIA_FIELDS)
    max_results = int_param(query, "max_results", 10)
    if not 5 <= max_results <= 100:
        raise InvalidParameter(
            "max_results",
            str(max_results),
            f"The `max_results` query parameter value [{max_results}] is not between 5 and 100",
        )
    token = query.get("pagination_token")
    if authored:
        timeline = [t for t in tweets if t.author_id == user.id]
    else:
        timeline = [t for t in tweets if mentions_user(t, user)]
    chunk, meta = page(
        timeline,
        since_id=int_param(query, "since_id", None),
        until_id=int_param(query, "until_id", None),
        max_results=max_results,
        older_than=pager.resolve(token) if token else None,
        pager=pager,
    )
    payload: dict[str, Any] = {}
    if chunk:
        payload["data"] = [t.render(tweet_fields, users) for t in chunk]
        includes: dict[str, Any] = {}
        expanded = expanded_users(chunk, expansions, users)
        if expanded:
            includes["users"] = [u.render(user_fields) for u in expanded]
        if "attachments.media_keys" in expansions and media:
            keys = dict.fromkeys(k for t in chunk for k in t.media_keys if k in media)
            if keys:
                includes["media"] = [media[k].render(media_fields, base_url) for k in keys]
        if includes:
            payload["includes"] = includes
    payload["meta"] = meta
    return 200, payload


def expanded_users(
    tweets: Iterable[FakeTweet], expansions: list[str], users: Mapping[str, FakeUser]
) -> list[FakeUser]:
    """The users ``expansions`` asks to include for ``tweets``, each once, in order."""
    by_id = {u.id: u for u in users.values()}
    wanted: dict[str, FakeUser] = {}
    for tweet in tweets:
        ids = []
        if "author_id" in expansions:
            ids.append(tweet.author_id)
        if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
            ids.append(tweet.in_reply_to_user_id)
        if "entities.mentions.username" in expansions:
            ids += [users[n.lower()].id for _, _, n in tweet.mentions if n.lower() in users]
        for user_id in ids:
            if user_id in by_id:
                wanted.setdefault(user_id, by_id[user_id])
    return list(wanted.values())


def new_tweet(body: Any, tweets: Mapping[str, FakeTweet]) -> tuple[str, FakeTweet | None]:
    """``POST /2/tweets``: the text to publish (may be empty with ``media``) and the tweet it
    replies to, if any."""
    if not isinstance(body, dict):
        raise Problem(400, "Invalid Request", "The request body is not valid JSON")
    text = body.get("text", "")
    if not isinstance(text, str) or (not text.strip() and not body.get("media")):
        raise Problem(400, "Invalid Request", "Tweet text is empty")
    if len(text) > MAX_CODE_POINTS:
        raise Problem(403, "Forbidden", "Tweet text is too long")
    reply = body.get("reply") or {}
    parent_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
    parent = tweets.get(str(parent_id)) if parent_id is not None else None
    if parent_id is not None and parent is None:
        raise Problem(
            403,
            "Forbidden",
            "You attempted to reply to a Tweet that is deleted or not visible to you.",
        )
    return text, parent


__all__ = [
    "MAX_CODE_POINTS",
    "Answer",
    "Problem",
    "expanded_users",
    "handled",
    "invalid_request",
    "mentions_answer",
    "new_tweet",
    "problem",
    "refusal",
    "user_answer",
    "user_by_id_answer",
]
