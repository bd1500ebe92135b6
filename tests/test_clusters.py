"""Reprint clusters: reprints join their original, same-topic stories stay apart, the index is incremental."""
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import opencc
import pytest

from archive import cluster_rebuild, clusters, neardup, signature_cache

S2T, T2S = opencc.OpenCC("s2t"), opencc.OpenCC("t2s")
SEEDS = Path(__file__).parent / "fixtures" / "seeds"

# Two different stories on one topic (school-uniform inspections), sharing its vocabulary.
UNIFORMS_XIANNING = [
    "为进一步加强学生校服质量监管，保障广大中小学生身体健康，9月上旬，咸宁市市场监督管理局组织开展了2024年学生校服产品质量专项监督抽查。",
    "本次抽查共涉及全市12家校服生产企业和5所中小学校，抽取校服产品36批次，检验项目包括纤维含量、甲醛含量、pH值、可分解致癌芳香胺染料、耐洗色牢度和附件抗拉强力等。",
    "经检验，合格32批次，不合格4批次，不合格项目主要为纤维含量与明示不符和耐洗色牢度不达标。",
    "针对抽查中发现的问题，该局已责令相关企业立即停止销售不合格产品，限期整改，并依法进行立案查处。",
    "下一步，咸宁市市场监管局将持续加大校服质量监管力度，督促企业严格落实质量安全主体责任，对整改不到位的企业开展跟踪抽查。",
    "同时，该局提醒家长和学校，在采购校服时应查看产品标签和检验报告，选择正规渠道购买，发现质量问题可拨打12315投诉举报。",
]
UNIFORMS_XIANGYANG = [
    "近日，襄阳市市场监督管理局联合市教育局召开全市学生校服质量安全工作座谈会，通报今年春季校服质量监督抽查情况。",
    "会议指出，今年春季共对全市8家校服生产企业的24批次产品进行了监督抽查，发现3批次产品耐洗色牢度和标识标注不符合标准要求。",
    "会上，市教育局要求各学校严格执行校服采购管理规定，采购前须查验供应商提供的产品检验报告，不得采购未经检验的校服。",
    "市市场监管局相关负责人对《中小学生校服》国家标准进行了解读，并就校服生产企业如何建立原材料进货查验制度作了详细讲解。",
    "参会企业代表纷纷表示，将以此次座谈会为契机，进一步完善质量管理体系，确保每一件校服都让学生穿得安心、家长放心。",
]
# The same bureau's notice a year later: half of it is the template of the first one.
UNIFORMS_XIANNING_NEXT_YEAR = [
    "为保障秋季开学学生穿着安全，10月中旬，咸宁市市场监督管理局对全市学生校服开展了2025年度质量监督抽查。",
    "此次抽查覆盖9家生产企业和3家经销单位，共抽取冬季校服、运动服等产品28批次，重点检测绒毛含量、燃烧性能、耐磨性能和标识标注。",
    "检验结果显示，26批次合格，2批次不合格，问题集中在耐磨性能偏低和使用说明缺少安全类别标注。",
    *UNIFORMS_XIANNING[3:],
]
ELEVATORS = [
    "为切实做好国庆假期电梯安全保障工作，崇阳县市场监督管理局于9月25日起开展电梯安全专项检查。",
    "检查组重点对商场、医院、学校、住宅小区等人员密集场所的在用电梯进行了检查，共检查电梯使用单位23家、电梯86台。",
    "检查中发现部分电梯存在维护保养记录不完整、应急救援电话不畅通、安全警示标志缺失等问题，检查组当场下达安全监察指令书7份。",
    "该局要求各使用单位和维保单位切实落实安全主体责任，加强日常巡查和维护保养，确保节日期间电梯安全运行。",
]


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT, kind TEXT, level TEXT)")
    conn.execute("""CREATE TABLE articles (id INTEGER PRIMARY KEY, url TEXT, source_id INTEGER, title TEXT,
        published_at TEXT, source_name TEXT, body TEXT, body_simplified TEXT, content_hash TEXT)""")
    conn.executemany("INSERT INTO sources (id, name, kind) VALUES (?, ?, ?)",
                     [(1, "咸宁市市场监督管理局", "bureau"), (2, "市场监管总局地方动态", "portal"),
                      (3, "质量镜像站", "mirror"), (4, "湖北省市场监督管理局", "bureau")])
    conn.commit()
    return conn


def store(conn, body, source_id=1, published_at="2024-09-10T09:00:00+08:00", article_id=None):
    """Insert an article as the store would (body_simplified is t2s of body) and cluster it."""
    cur = conn.execute(
        "INSERT INTO articles (id, url, source_id, published_at, body, body_simplified) VALUES (?, ?, ?, ?, ?, ?)",
        (article_id, f"u{random.random()}", source_id, published_at, body, T2S.convert(body)),
    )
    clusters.assign_cluster(conn, cur.lastrowid)
    return cur.lastrowid


def cluster_of(conn, article_id):
    return conn.execute("SELECT cluster_id FROM articles WHERE id = ?", (article_id,)).fetchone()[0]


def cluster_row(conn, cluster_id):
    row = conn.execute("SELECT canonical_article_id, size, first_published_at, source_names FROM clusters"
                       " WHERE id = ?", (cluster_id,)).fetchone()
    return dict(zip(["canonical", "size", "first_published_at", "source_names"], row))


def test_traditional_reprint_with_new_lead_and_boilerplate_joins_the_original(db):
    original = store(db, "\n".join(UNIFORMS_XIANNING))
    reprint_text = "\n".join(["【地方动态】咸宁：学生校服专项抽查结果出炉", "分享到：", *UNIFORMS_XIANNING[:4],
                              *UNIFORMS_XIANNING[5:], "【打印】【关闭】"])
    reprint = store(db, S2T.convert(reprint_text), source_id=3, published_at="2024-09-11T15:20:00+08:00")
    assert S2T.convert(reprint_text) != reprint_text  # really in traditional script
    assert cluster_of(db, reprint) == cluster_of(db, original)
    row = cluster_row(db, cluster_of(db, original))
    assert row["size"] == 2 and row["canonical"] == original
    assert row["source_names"] == "咸宁市市场监督管理局,质量镜像站"


def test_truncated_reprint_joins_by_containment(db):
    original = store(db, "\n".join(UNIFORMS_XIANNING))
    truncated = store(db, "\n".join(UNIFORMS_XIANNING[:2] + ["（未完）"]), source_id=2)
    assert cluster_of(db, truncated) == cluster_of(db, original)  # Jaccard ~0.41, containment ~0.98


def test_same_topic_different_story_stays_apart(db):
    first = store(db, "\n".join(UNIFORMS_XIANNING))
    other = store(db, "\n".join(UNIFORMS_XIANGYANG), source_id=4)
    unrelated = store(db, "\n".join(ELEVATORS))
    assert len({cluster_of(db, a) for a in (first, other, unrelated)}) == 3
    assert db.execute("SELECT count(*) FROM clusters").fetchone()[0] == 3


def test_next_years_notice_on_the_same_template_is_another_story(db):
    first = store(db, "\n".join(UNIFORMS_XIANNING))
    next_year = store(db, "\n".join(UNIFORMS_XIANNING_NEXT_YEAR), published_at="2025-10-20T09:00:00+08:00")
    assert cluster_of(db, first) != cluster_of(db, next_year)  # Jaccard ~0.35, containment ~0.54


def test_normalise_folds_script_width_and_punctuation():
    assert neardup.normalise("（一）ＡＢＣ，質量　監督。", simplified=False) == "一ABC质量监督"


def test_canonical_is_earliest_day_then_the_bureau(db):
    body = "\n".join(UNIFORMS_XIANNING)
    portal_same_day = store(db, body, source_id=2, published_at="2024-09-10T08:00:00+08:00")
    bureau = store(db, body, source_id=1, published_at="2024-09-10T10:00:00+08:00")
    cluster = cluster_of(db, bureau)
    assert cluster_row(db, cluster)["canonical"] == bureau  # same day: the bureau is the original
    assert cluster_row(db, cluster)["first_published_at"] == "2024-09-10T08:00:00+08:00"
    mirror_earlier = store(db, body, source_id=3, published_at="2024-09-09T20:00:00+08:00")
    assert cluster_row(db, cluster)["canonical"] == mirror_earlier  # a day earlier wins over the kind
    assert cluster_row(db, cluster)["size"] == 3


def test_undated_bureau_page_is_preferred_over_dated_portal(db):
    body = "\n".join(ELEVATORS)
    portal = store(db, body, source_id=2, published_at="2024-09-26T08:00:00+08:00")
    bureau = store(db, body, source_id=1, published_at=None)
    row = cluster_row(db, cluster_of(db, portal))
    assert row["canonical"] == bureau and row["first_published_at"] == "2024-09-26T08:00:00+08:00"


def test_article_bridging_two_clusters_merges_them_and_an_edit_splits_them_again(db):
    head = store(db, "\n".join(UNIFORMS_XIANNING[:2]))
    tail = store(db, "\n".join(UNIFORMS_XIANNING[3:]), source_id=2)
    assert cluster_of(db, head) != cluster_of(db, tail)
    whole = store(db, "\n".join(UNIFORMS_XIANNING), source_id=4)
    merged = cluster_of(db, whole)
    assert cluster_of(db, head) == cluster_of(db, tail) == merged
    assert cluster_row(db, merged)["size"] == 3
    assert db.execute("SELECT count(*) FROM clusters").fetchone()[0] == 1

    # the bridge is quietly rewritten into another story: the two halves part again
    new_body = "\n".join(ELEVATORS)
    db.execute("UPDATE articles SET body = ?, body_simplified = ? WHERE id = ?", (new_body, new_body, whole))
    clusters.assign_cluster(db, whole)
    assert len({cluster_of(db, a) for a in (head, tail, whole)}) == 3
    assert sorted(r[0] for r in db.execute("SELECT size FROM clusters")) == [1, 1, 1]


def test_unchanged_article_keeps_its_cluster_and_index_rows(db):
    original = store(db, "\n".join(UNIFORMS_XIANNING))
    before = db.execute("SELECT count(*) FROM lsh_bands").fetchone()[0]
    assert clusters.assign_cluster(db, original) == cluster_of(db, original)
    assert db.execute("SELECT count(*) FROM lsh_bands").fetchone()[0] == before == neardup.BANDS


def test_too_short_texts_are_not_called_reprints(db):
    a = store(db, "详见附件。")
    b = store(db, "详见附件。", source_id=2)
    assert cluster_of(db, a) != cluster_of(db, b)


def random_story(rng, alphabet, length=400):
    return "".join(rng.choice(alphabet) for _ in range(length))


def archive_of(size):
    """An archive of ``size`` distinct articles, clustered in bulk."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT, kind TEXT)")
    conn.execute("""CREATE TABLE articles (id INTEGER PRIMARY KEY, url TEXT, source_id INTEGER,
        published_at TEXT, source_name TEXT, body TEXT, body_simplified TEXT)""")
    rng = random.Random(size)
    alphabet = sorted(set("".join(UNIFORMS_XIANNING + UNIFORMS_XIANGYANG + ELEVATORS)))
    conn.executemany("INSERT INTO articles (body_simplified, published_at) VALUES (?, '2024-01-01')",
                     [(random_story(rng, alphabet),) for _ in range(size)])
    cluster_rebuild.rebuild(conn)
    conn.commit()
    return conn


def vm_steps_to_add(conn, body):
    steps = [0]

    def count():
        steps[0] += 1
        return 0

    cur = conn.execute("INSERT INTO articles (body_simplified) VALUES (?)", (body,))
    conn.set_progress_handler(count, 100)
    clusters.assign_cluster(conn, cur.lastrowid)
    conn.set_progress_handler(None, 0)
    return steps[0]


def test_adding_one_article_costs_the_same_in_a_ten_times_larger_archive():
    small, large = archive_of(200), archive_of(2000)
    body = "\n".join(UNIFORMS_XIANNING)
    assert vm_steps_to_add(large, body) < 1.5 * vm_steps_to_add(small, body)
    plan = " ".join(r[3] for r in large.execute("EXPLAIN QUERY PLAN " + signature_cache._CANDIDATE_ROWS_SQL,
                                                 [0, b""] * neardup.BANDS))
    assert "SCAN" not in plan and "lsh_bands USING PRIMARY KEY" in plan and "INTEGER PRIMARY KEY" in plan
    plan = " ".join(r[3] for r in large.execute("EXPLAIN QUERY PLAN " + signature_cache._CANDIDATE_IDS_SQL,
                                                 [0, b""] * neardup.BANDS))
    assert "SCAN" not in plan and "lsh_bands USING PRIMARY KEY" in plan


def test_rebuild_agrees_with_one_by_one_assignment(db):
    bodies = ["\n".join(UNIFORMS_XIANNING), S2T.convert("\n".join(UNIFORMS_XIANNING[1:])),
              "\n".join(UNIFORMS_XIANGYANG), "\n".join(UNIFORMS_XIANGYANG[:-1] + ["相关阅读"]),
              "\n".join(ELEVATORS), "\n".join(UNIFORMS_XIANNING[:3])]
    ids = [store(db, body, source_id=1 + i % 3) for i, body in enumerate(bodies)]
    one_by_one = [cluster_of(db, a) for a in ids]
    assert cluster_rebuild.rebuild(db) == 3
    rebuilt = [cluster_of(db, a) for a in ids]
    same = lambda labels: [[x == y for y in labels] for x in labels]  # noqa: E731
    assert same(one_by_one) == same(rebuilt)
    assert db.execute("SELECT sum(size) FROM clusters").fetchone()[0] == len(ids)


def test_works_on_the_stores_autocommit_connection_and_commits(tmp_path):
    path = tmp_path / "a.db"
    conn = sqlite3.connect(path, isolation_level=None)  # as archive.store.connect
    conn.row_factory = sqlite3.Row
    conn.execute("CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT, kind TEXT)")
    conn.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, source_id INTEGER, published_at TEXT,"
                 " source_name TEXT, body TEXT, body_simplified TEXT)")
    body = "\n".join(UNIFORMS_XIANNING)
    for _ in range(2):
        conn.execute("INSERT INTO articles (body, body_simplified) VALUES (?, ?)", (body, body))
    clusters.assign_cluster(conn, 1)
    clusters.assign_cluster(conn, 2)
    other = sqlite3.connect(path)
    assert other.execute("SELECT cluster_id FROM articles ORDER BY id").fetchall() == [(1,), (1,)]
    assert cluster_rebuild.rebuild(conn) == 1 and not conn.in_transaction
    assert other.execute("SELECT size FROM clusters").fetchall() == [(2,)]


def test_rebuild_of_an_empty_archive(db):
    assert cluster_rebuild.rebuild(db) == 0
    assert db.execute("SELECT count(*) FROM lsh_bands").fetchone()[0] == 0


def test_recent_sets_are_keyed_by_the_text_and_bounded():
    from archive.neardup import RecentSets, normalise, shingles

    recent = RecentSets(budget=60_000)
    texts = ["\n".join(UNIFORMS_XIANNING), "\n".join(UNIFORMS_XIANGYANG), "\n".join(ELEVATORS)]
    first = recent(texts, [True] * 3)
    assert [s.tolist() for s in first] == [shingles(normalise(t)).tolist() for t in texts]
    assert all(not s.flags.writeable for s in first)  # shared: nobody may change them
    assert recent(texts[:1], [True])[0] is first[0]
    edited = texts[0].replace("36批次", "38批次")  # the same article, changed: never its old set
    assert (recent([edited], [True])[0] == shingles(normalise(edited))).all()
    assert (recent([S2T.convert(texts[0])], [False])[0] == first[0]).all()
    many = [f"{i}号通告：" + text for i in range(40) for text in texts]
    recent(many, [True] * len(many))
    assert recent.size <= recent.budget and len(recent.sets) < len(many)
    assert recent.size == sum(sys.getsizeof(text) + s.nbytes for (text, _), s in recent.sets.items())


@pytest.mark.parametrize("change", ["rewritten", "deleted"])
def test_a_candidate_changed_since_it_was_compared_is_compared_as_it_is_now(db, change):
    """The sets of compared candidates are kept for later comparisons: never a stale one.  The original's
    index rows are left as they were (no assign_cluster), so it stays a candidate of the second piece."""
    from archive.neardup import normalise, same_story, shingles

    original = store(db, "\n".join(UNIFORMS_XIANNING))
    head = store(db, "\n".join(UNIFORMS_XIANNING[:2] + ["（未完）"]), source_id=2)
    first_cluster = cluster_of(db, original)
    assert cluster_of(db, head) == first_cluster  # compared by text: the original's set is kept
    tail_text = "\n".join(UNIFORMS_XIANNING[3:] + ["（未完）"])
    old_text = shingles(normalise("\n".join(UNIFORMS_XIANNING)))
    assert same_story(shingles(normalise(tail_text)), old_text)  # it would join the original as it was
    if change == "rewritten":
        db.execute("UPDATE articles SET body = ?, body_simplified = ? WHERE id = ?",
                   ("\n".join(ELEVATORS), "\n".join(ELEVATORS), original))
    else:
        db.execute("DELETE FROM articles WHERE id = ?", (original,))
    tail = store(db, tail_text, source_id=3)
    assert cluster_of(db, tail) != first_cluster


def test_shingle_sets_agree_with_normalise_and_shingles():
    from archive.neardup import normalise, shingle_sets, shingles

    rng = random.Random(4)
    odd = ("ＡＢＣ１２３", "pīnyīn zhùyīn à", "가각\u1100\u1161\u11a8", "e\u0301\u0323", "①Ⅻ㈱ﬁ", "\U00020000𠀋字",
           "\uf900\u2f00", "短", "", "  ，。 ", "質量監督", "\ufeff\u200b零宽")
    texts = ["\n".join(UNIFORMS_XIANNING), S2T.convert("\n".join(ELEVATORS)), *odd]
    texts += ["".join(rng.choice(odd + tuple(UNIFORMS_XIANGYANG)) for _ in range(rng.randint(1, 6))) for _ in range(60)]
    simplified = [rng.random() < 0.7 for _ in texts]
    expected = [shingles(normalise(text, simplified=s)).tolist() for text, s in zip(texts, simplified)]
    assert [s.tolist() for s in shingle_sets(texts, simplified)] == expected  # in one pass
    assert [shingle_sets([t], [s])[0].tolist() for t, s in zip(texts, simplified)] == expected


def test_keep_class_characters_need_no_nfkc_check():
    """normalise's NFKC check is skipped for texts of _KEEP characters only: any string of them is normalised."""
    import unicodedata

    from archive import neardup

    table = neardup._classes()
    keep = [chr(c) for c in np.flatnonzero(table == neardup._KEEP)]
    assert "质" in keep and "à" in keep and "A" in keep and "\u1161" not in keep and "Ａ" not in keep
    rng = random.Random(5)
    for _ in range(2000):
        text = "".join(rng.choices(keep, k=rng.randint(1, 12)))
        assert unicodedata.is_normalized("NFKC", text)
    # no kept character is the second of a composition, including those beyond the BMP
    seconds = {int(d.split()[1], 16) for d in map(unicodedata.decomposition, map(chr, range(0x110000)))
               if len(d.split()) == 2 and not d.startswith("<")}
    assert not [c for c in seconds if c < 0xFFFF and table[c] == neardup._KEEP]


def test_signature_is_datasketchs_minhash():
    import datasketch  # a test dependency (pyproject [test]): the reference, never skipped

    from archive.neardup import NUM_PERM, SEED, signature

    rng = np.random.RandomState(6)
    for size in (0, 1, 7, 300, 5000):  # 5000: more than one chunk
        fingerprints = np.unique(rng.randint(0, 2**32, size=size, dtype=np.uint64).astype(np.uint32))
        minhash = datasketch.MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=int)
        kept = fingerprints[(fingerprints & 7) == 0]
        minhash.update_batch(kept.tolist())
        sig, sampled = signature(fingerprints)
        assert sig.dtype == np.uint32 and sampled.tolist() == kept.tolist()
        assert sig.tolist() == minhash.hashvalues.astype(np.uint32).tolist()


def test_parts_are_numbered_as_scipys_components():
    rng = random.Random(7)
    for _ in range(300):
        count = rng.randint(1, 10)
        edges = [(i, k) for i in range(count) for k in range(i + 1, count) if rng.random() < 0.25]
        _, labels = cluster_rebuild._components(count, np.array(edges, dtype=np.int64).reshape(-1, 2))
        assert clusters._parts(count, edges) == labels.tolist()


def test_tables_are_created_again_after_a_rolled_back_creation(tmp_path):
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    conn.execute("CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT, kind TEXT)")
    conn.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, source_id INTEGER, published_at TEXT,"
                 " source_name TEXT, body TEXT, body_simplified TEXT)")
    conn.execute("INSERT INTO articles (body_simplified) VALUES (?)", ("\n".join(ELEVATORS),))
    conn.execute("BEGIN")
    clusters.assign_cluster(conn, 1)  # creates the tables inside the open transaction
    conn.execute("ROLLBACK")
    assert clusters.assign_cluster(conn, 1) == 1  # this connection checked them once: it checks again
    assert conn.execute("SELECT size FROM clusters").fetchall() == [(1,)]


def test_storing_loads_neither_datasketch_nor_scipy(tmp_path):
    """A process that stores articles stays small: datasketch imports scipy (~75 MB)."""
    script = f"""
import sqlite3, sys
from archive import clusters
conn = sqlite3.connect(":memory:")
conn.execute("CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT, kind TEXT)")
conn.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, source_id INTEGER, published_at TEXT, source_name TEXT,"
             " body TEXT, body_simplified TEXT)")
for body in {[chr(10).join(UNIFORMS_XIANNING), chr(10).join(UNIFORMS_XIANNING[:2]),
               chr(10).join(["【转载】", *UNIFORMS_XIANNING]), chr(10).join(ELEVATORS)]!r}:
    cur = conn.execute("INSERT INTO articles (body, body_simplified) VALUES (?, ?)", (body, body))
    clusters.assign_cluster(conn, cur.lastrowid)
conn.execute("UPDATE articles SET body_simplified = ? WHERE id = 1", ({chr(10).join(UNIFORMS_XIANGYANG)!r},))
clusters.assign_cluster(conn, 1)  # leaving a cluster of three re-joins the other two
assert sorted(r[0] for r in conn.execute("SELECT size FROM clusters")) == [1, 1, 2]
print(sorted(m for m in sys.modules if m.split(".")[0] in ("scipy", "datasketch")))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"


def test_index_rows_of_a_deleted_article_join_nothing(db):
    original = store(db, "\n".join(UNIFORMS_XIANNING))
    db.execute("DELETE FROM articles WHERE id = ?", (original,))  # its minhash and band rows stay behind
    reprint = store(db, "\n".join(["【转载】", *UNIFORMS_XIANNING]), source_id=2)
    assert db.execute("SELECT size FROM clusters WHERE id = ?", (cluster_of(db, reprint),)).fetchone()[0] == 1


def test_a_new_article_row_is_not_rewritten_to_leave_no_cluster(db):
    """A new article is in no cluster; taking it out of one must not touch its row (a rewrite of the text)."""
    writes = []
    db.set_trace_callback(lambda sql: writes.append(sql) if sql.startswith("UPDATE articles") else None)
    article = store(db, "\n".join(ELEVATORS))
    db.set_trace_callback(None)
    assert writes == [f"UPDATE articles SET cluster_id = {cluster_of(db, article)} WHERE id = {article}"]


def _seed_clauses() -> list[str]:
    """Clauses of the seed pages (simplified, pinyin annotations dropped): material for generated stories."""
    pinyin = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")
    text = "".join(path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt")))
    return sorted({c for c in re.split(r"[，。；！？,;\n]", T2S.convert(pinyin.sub("", text))) if len(c) >= 8})


def test_samples_never_rule_out_a_pair_the_texts_call_a_reprint_and_rule_out_most_near_misses():
    rng, pool = random.Random(5), _seed_clauses()
    reprints = near_misses = ruled_out = 0
    for _ in range(600):
        story = rng.sample(pool, rng.randint(20, 60))
        texts = [story]
        for _ in range(4):  # reprints cut, trimmed and padded to around the thresholds
            copy = story[: max(4, round(len(story) * rng.uniform(0.4, 1.0)))]
            for _ in range(rng.randint(0, 3)):
                copy.pop(rng.randrange(len(copy)))
            copy += rng.sample(pool, round(len(copy) * rng.uniform(0, 0.35)))
            rng.shuffle(copy)
            texts.append(copy)
        shared = rng.sample(story, round(len(story) * rng.uniform(0.2, 0.6)))  # another story sharing some of it
        texts.append(shared + rng.sample(pool, len(story) - len(shared)))
        sets = [neardup.shingles("".join(text)) for text in texts]
        samples = [neardup.sample(s) for s in sets]
        for i in range(len(sets) - 1):
            for k, out in enumerate(neardup.ruled_out(samples[i], samples[i + 1 :]).tolist()):
                a, b = sets[i], sets[i + 1 + k]
                if neardup.same_story(a, b):
                    reprints += 1
                    assert not out, (i, i + 1 + k)
                elif 0.2 <= len(np.intersect1d(a, b)) / min(len(a), len(b)) < 0.4:  # sharing a few sentences
                    near_misses += 1
                    ruled_out += out
    assert reprints >= 1000 and near_misses >= 300, (reprints, near_misses)
    assert ruled_out >= 0.75 * near_misses, (ruled_out, near_misses)


def test_index_rows_without_a_sample_are_compared_by_their_text(db):
    """Rows indexed before schema version 9 have no sample: their candidates are compared as before."""
    original = store(db, "\n".join(UNIFORMS_XIANNING))
    other = store(db, "\n".join(UNIFORMS_XIANGYANG), source_id=4)
    db.execute("UPDATE article_minhash SET sample = NULL")
    truncated = store(db, "\n".join(UNIFORMS_XIANNING[:2] + ["（未完）"]), source_id=2)
    assert cluster_of(db, truncated) == cluster_of(db, original) != cluster_of(db, other)
    clusters.assign_cluster(db, original)  # unchanged text: the missing sample is filled in
    missing = db.execute("SELECT article_id FROM article_minhash WHERE sample IS NULL").fetchall()
    assert missing == [(other,)]
    row = db.execute("SELECT shingles, sample FROM article_minhash WHERE article_id = ?", (original,)).fetchone()
    assert len(row[1]) == 4 * row[0] > 0


def test_pairwise_ruling_out_agrees_with_one_against_many():
    rng, pool = random.Random(9), _seed_clauses()
    stories = [rng.sample(pool, rng.randint(3, 40)) for _ in range(30)]
    texts = [s[: rng.randint(1, len(s))] + rng.sample(pool, rng.randint(0, 10)) for s in stories for _ in range(3)]
    samples = [neardup.sample(neardup.shingles("".join(t))) for t in texts] + [np.empty(0, dtype=np.uint32)]
    first, second = np.triu_indices(len(samples), 1)
    expected = np.concatenate([neardup.ruled_out(samples[i], samples[i + 1 :]) for i in range(len(samples) - 1)])
    assert expected.any() and not expected.all()
    assert (neardup.ruled_out_pairs(samples, first, second) == expected).all()
    order = np.random.default_rng(1).permutation(len(first))  # any order of pairs
    assert (neardup.ruled_out_pairs(samples, first[order], second[order]) == expected[order]).all()
