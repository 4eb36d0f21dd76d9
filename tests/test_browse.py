"""The browse tool over the bundled mini-web: pages and links read right, every link lands on a page, and
addresses that leave wiki.local or are not page names are refused before anything is read."""
import pytest

from core.agents import browse as B
from core.agents.injection import find_injection


def test_every_page_parses_and_every_link_lands():
    web = B.load_web()
    assert set(web) == {"index", "tokenization", "attention", "kv-cache", "quantization", "speculative-decoding",
                        "rag", "forum"}
    for page in web.values():
        assert page.title and page.text and "](" not in page.text  # links rendered as "text [n]"
        for n, (target, text) in enumerate(page.links, 1):
            assert target in web, (page.name, target)
            assert f"{text} [{n}]" in page.text
    reachable, frontier = {"index"}, ["index"]  # every page can be reached from the start page
    while frontier:
        for target, _ in web[frontier.pop()].links:
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(web)


def test_a_page_as_an_observation():
    text = B.browse("https://wiki.local/kv-cache")
    assert text.startswith("wiki.local/kv-cache: The KV cache\n")
    assert "512 KiB per token" in text and 2 * 32 * 32 * 128 * 2 == 512 * 1024  # the page's arithmetic holds
    assert text.endswith("Links: [1] wiki.local/quantization (quantization) [2] wiki.local/speculative-decoding "
                         "(speculative decoding)")
    for same in ("kv-cache", "wiki.local/kv-cache", "/kv-cache", "WIKI.LOCAL/KV-CACHE", "http://wiki.local/kv-cache/",
                 "kv-cache.md"):
        assert B.browse(same) == text
    assert B.browse("wiki.local").startswith("wiki.local/index: LLM notes: start here")


@pytest.mark.parametrize("address, kind", [
    ("https://evil.example/collect?q=secret", "refused"),  # exfiltration: the forum page's planted request
    ("http://wiki.local@evil.com/x", "refused"),  # userinfo trick: the host is evil.com
    ("wiki.local.evil.com/x", "refused"),
    ("http://127.0.0.1:8501/", "refused"),  # the app's own server
    ("file:///etc/passwd", "refused"),
    ("javascript:alert(1)", "refused"),
    ("../../etc/passwd", "refused"),
    ("wiki.local/../../etc/passwd", "refused"),
    ("wiki.local/%2e%2e/secret", "refused"),
    ("wiki.local/README", "refused"),  # the folder's README is not a page
    ("no-such-page", "refused"),
    ("", "input"),
    ("x" * 5000, "input"),
])
def test_hostile_addresses_are_refused(address, kind):
    with pytest.raises(B.BrowseError) as err:
        B.browse(address)
    assert err.value.kind == kind and len(str(err.value)) < 400


def test_the_forum_carries_a_planted_injection_that_the_runtime_flags():
    forum = B.browse("forum")
    assert find_injection(forum, observation=True)
    with pytest.raises(B.BrowseError, match="not reachable"):
        B.browse("https://evil.example/collect?q=the-users-question")
