"""Property tests (hypothesis) on the text steps of the cleaning chain.

Examples in the other cleaning tests show the steps do the right thing on
pages we have seen; these check laws that must hold on any text, so a step
that eats characters or flips its mind on a second pass is caught even on
input nobody thought to write down.  Text is drawn from what the pages are
made of: common Han characters in both scripts, Chinese and ASCII
punctuation, digits, Latin letters and tone-marked pinyin annotations.
"""
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.chain import STEPS
from pipelines.dedupe import mark_repeats
from pipelines.document import Document, Paragraph
from pipelines.layout import rejoin_lines
from pipelines.metadata import extract_metadata
from pipelines.mirror import ANNOTATION, strip_annotations, strip_pinyin
from pipelines.plaintext import text_to_document
from pipelines.script import compact

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
CHARS = "质量监督局检查产品抽查合格企业市场管理總體電器標準安全特種設備召回的了是在和县省市区年月日"
PUNCT = "，。、；：！？“”（）《》,.;:!?()- "
SYLLABLES = ["zhì", "liàng", "jiān", "dū", "shì", "chǎng", "guǎn", "lǐ", "wèi", "hé"]

han_text = st.text(alphabet=CHARS, min_size=1, max_size=12)
piece = st.one_of(
    han_text,
    st.text(alphabet=PUNCT, min_size=1, max_size=3),
    st.text(alphabet="0123456789abcXYZ", min_size=1, max_size=6),
    st.sampled_from(SYLLABLES).map(lambda s: f"({s})"),
    st.sampled_from(["图为", "记者张城摄", "一、", "来源：", "发布时间：2016-04-18", "——"]),
)
line = st.lists(piece, min_size=1, max_size=8).map("".join)
lines = st.lists(line, min_size=1, max_size=12)
TAGS = st.sampled_from([None, None, None, "p", "h2", "li", "td", "figcaption", "strong"])
paragraphs = st.lists(st.builds(Paragraph, line, tag=TAGS), min_size=1, max_size=12)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def han(text: str) -> str:
    return "".join(HAN.findall(text))


def annotations_removed(text: str) -> str:
    """The Han characters a correct pinyin removal keeps: all of them (annotations are Latin)."""
    return han(ANNOTATION.sub("", text))


def view(doc: Document) -> list[tuple]:
    return [(p.text, p.kind, p.reason) for p in doc.paragraphs]


def staged(text_lines, step):
    """The document as the chain hands it to ``step``: every earlier step applied."""
    doc = text_to_document("\n".join(text_lines), url="http://example.gov.cn/a/1.html")
    for earlier in STEPS[:STEPS.index(step)]:
        doc = earlier(doc)
    return doc


def assert_idempotent(step, doc):
    once = step(doc)
    twice = step(once)
    assert view(twice) == view(once), step.__name__
    assert twice.meta == once.meta, step.__name__
    assert twice.flags == once.flags, step.__name__


# extract_metadata moves text into meta (title line, lead-in and trailing credits) and reads only what is
# still body, so a second pass loses what the first found; it is tested on its own below.
IDEMPOTENT = [step for step in STEPS if step is not extract_metadata]


@FAST
@given(lines, st.sampled_from(IDEMPOTENT))
def test_every_text_step_applied_twice_equals_once(text_lines, step):
    """Each step, on the document as the chain hands it over: same paragraphs, meta and flags again."""
    assert_idempotent(step, staged(text_lines, step))


def test_metadata_step_applied_twice_equals_once():
    """Hypothesis's smallest counterexample is a single line; this is the same failure on a real shape."""
    assert_idempotent(extract_metadata, staged(["市场监管局公布电梯抽查结果", "本次共抽查电梯二十台，合格率九成。"],
                                               extract_metadata))


@FAST
@given(paragraphs)
def test_dedupe_keeps_the_first_occurrence(paras):
    marked = mark_repeats(Document(paragraphs=tuple(paras))).paragraphs
    first: dict[str, int] = {}
    for position, (before, after) in enumerate(zip(paras, marked)):
        key = compact(before.text)
        if not key:
            assert after == before
            continue
        if key not in first:
            first[key] = position
            assert after == before, "the first occurrence must stay as it was"
        else:
            assert after.kind == "duplicate" and after.reason == f"repeat of paragraph {first[key]}"
            assert after.text == before.text


@FAST
@given(paragraphs)
def test_rejoining_never_drops_han_characters(paras):
    doc = Document(paragraphs=tuple(paras))
    joined = rejoin_lines(doc)
    assert han("".join(p.text for p in joined.paragraphs)) == han("".join(p.text for p in paras))
    assert len(joined.paragraphs) <= len(paras)


@FAST
@given(line)
def test_pinyin_removal_keeps_every_han_character(text):
    stripped, count = strip_pinyin(text)
    assert han(stripped) == han(text)
    assert count == len(ANNOTATION.findall(text))
    assert not ANNOTATION.search(stripped) or stripped != text


@FAST
@given(lines)
def test_annotation_step_keeps_han_characters_of_every_paragraph(text_lines):
    doc = text_to_document("\n".join(text_lines))
    out = strip_annotations(doc)
    assert [han(p.text) for p in out.paragraphs] == [annotations_removed(p.text) for p in doc.paragraphs]
