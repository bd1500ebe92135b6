"""Generate the sample sites from the five seed articles.  Run once; its output is committed.

    python crawler/demo_sites/build.py

Each seed's text appears on exactly one site, as its own article: the TRS
bureau site carries seeds 003 and 004 (004 split over two pages, GBK-encoded),
the portal carries seed 002 and an undamaged copy of seed 001's story, and the
spam mirror carries seeds 000 and 001 exactly as damaged as scraped.  The short
extra articles are our own text.  Seeds are read from tests/fixtures/seeds/,
else ../shared/seeds/.
"""
from __future__ import annotations

import re
import shutil
import zlib
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SEED_DIRS = (ROOT / "tests" / "fixtures" / "seeds", ROOT.parent / "shared" / "seeds")

TRS, PORTAL, MIRROR, CHALLENGE = "scjg.hubei.gov.cn", "www.cqn.com.cn", "www.zhijian-mirror.example", "scjgj.challenge-demo.example"
PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")


def seed(prefix: str) -> list[str]:
    for folder in SEED_DIRS:
        found = sorted(folder.glob(f"{prefix}_*.txt")) if folder.is_dir() else []
        if found:
            return found[0].read_text(encoding="utf-8").splitlines()
    raise SystemExit(f"seed {prefix} not found in {', '.join(map(str, SEED_DIRS))}")


def paras(lines, cls=None, captions=frozenset()) -> str:
    """Body paragraphs; a line in ``captions`` is laid out as TRS does a photo: centred image, centred caption."""
    attr = f' class="{cls}"' if cls else ""
    centre = ' style="text-align: center;"'
    return "\n".join(
        f'<p{centre}><img src="./W{zlib.crc32(line.encode()):010d}.jpg" /></p>\n<p{centre}>{escape(line)}</p>'
        if line in captions else f"<p{attr}>{escape(line)}</p>"
        for line in lines if line.strip())


def write(host: str, path: str, text: str, encoding: str = "utf-8") -> None:
    target = HERE / host / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode(encoding))


# ---------------------------------------------------------------- TRS WCM bureau site
TRS_HEAD = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}" />
<title>{title}</title>
<meta name="SiteName" content="湖北省市场监督管理局" /><meta name="SiteDomain" content="scjg.hubei.gov.cn" />
<meta name="ColumnName" content="市州动态" /><meta name="ColumnType" content="新闻中心" />
{meta}<script type="text/javascript" src="/images/page.js"></script></head><body>
<div class="top"><a href="/">首页</a> | <a href="/xwzx/">新闻中心</a> | <a href="/zfxxgk/">政府信息公开</a> | <a href="/bsfw/">办事服务</a> | <a href="/hdjl/">互动交流</a></div>
<div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/xwzx/">新闻中心</a> &gt; <a href="/xwzx/szdt/">市州动态</a></div>
"""
TRS_FOOT = """<div class="side"><h3>热点专题</h3><ul>
<li><a href="/ztzl/nbzl/202403/t20240308_5120018.html">内部资料汇编（仅限内网）</a></li>
<li><a href="/xwzx/rl/calendar.html?date=2024-06-12">信息发布日历</a></li></ul></div>
<div class="footer">主办：湖北省市场监督管理局　地址：武汉市洪山区　鄂ICP备00000000号<br />网站标识码：4200000000　技术支持：拓尔思 TRS</div>
</body></html>"""

EXTRA_ELEVATOR = ("湖北省市场监管局部署开展电梯安全隐患专项排查整治", "2024-06-12 10:05", "省市场监管局特种设备安全监察处", [
    "6月11日，湖北省市场监督管理局召开全省电梯安全工作视频会议，部署开展为期三个月的电梯安全隐患专项排查整治。",
    "会议要求，各市州市场监管部门要以住宅小区、学校、医院、商场等人员密集场所为重点，对使用年限超过15年的老旧电梯逐台排查，督促使用单位落实维护保养责任，做到隐患清零。",
    "专项排查将同步检查维保单位的作业记录和应急救援响应时间，对超期未检、带病运行的电梯依法责令停用。截至目前，全省已登记在用电梯约38万台。",
    "省局特种设备安全监察处有关负责人表示，排查结果将在省局网站统一公布，接受社会监督。",
])
EXTRA_UNIFORM = ("襄阳市市场监管局开展学生校服产品质量监督抽查", "2024-05-21 16:40", "襄阳市市场监督管理局", [
    "为保障中小学生穿着安全，襄阳市市场监督管理局近日组织开展学生校服产品质量监督抽查，共抽取全市27所中小学校的校服样品54批次。",
    "本次抽查重点检验纤维含量、甲醛含量、pH值、可分解致癌芳香胺染料及耐水色牢度等项目，并对校服上的绳带和附件进行安全检查。",
    "经检验，52批次样品合格，2批次样品纤维含量与标签不符。对不合格产品，该局已责令生产企业停止销售并限期整改，并将结果通报教育主管部门。",
])
PDF = b"%PDF-1.4\n% qsnews sample attachment\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def trs_article(path, title, when, source, body_html, charset="utf-8", pager="", attach="", prevnext=""):
    meta = (f'<meta name="ArticleTitle" content="{escape(title)}" />\n<meta name="PubDate" content="{when}" />\n'
            f'<meta name="ContentSource" content="{escape(source)}" />\n')
    html = (TRS_HEAD.format(charset=charset, title=f"{escape(title)}_市州动态_湖北省市场监督管理局", meta=meta)
            + f'<div class="article"><h1 class="title">{escape(title)}</h1>\n'
            f'<div class="info">发布时间：{when}　来源：{escape(source)}　【字体：<a href="javascript:doZoom(16)">大</a> '
            f'<a href="javascript:doZoom(14)">中</a> <a href="javascript:doZoom(12)">小</a>】</div>\n'
            f'<div class="TRS_Editor">{body_html}</div>\n{pager}{attach}{prevnext}</div>\n' + TRS_FOOT)
    write(TRS, path, html, "gbk" if charset == "gb2312" else "utf-8")


def trs_list(path, items, script):
    rows = "\n".join(f'<li><a href="{href}" target="_blank" title="{escape(t)}">{escape(t)}</a><span>{d}</span></li>'
                     for href, t, d in items)
    html = (TRS_HEAD.format(charset="utf-8", title="市州动态_湖北省市场监督管理局", meta="")
            + f'<div class="list"><h2>市州动态</h2><ul>\n{rows}\n</ul>\n'
            f'<div id="page_div"></div><script type="text/javascript">\n{script}\n</script></div>\n' + TRS_FOOT)
    write(TRS, path, html)


def build_trs():
    s003, s004 = seed("003"), [line for line in seed("004")]
    col = "/xwzx/szdt"
    title003 = "襄州区质监局服务区域经济发展 推动质监能力建设上台阶"
    trs_article(f"{col}/201207/t20120718_385412.html", title003, "2012-07-18 09:31", "襄州区质量技术监督局",
                paras(s003), prevnext='<div class="prevnext">下一篇：<a href="../201408/t20140822_611337.html">质量兴县 标准先行</a></div>')
    # Seed 004: the title is the h1; everything else is the body, split over two pages at a section heading;
    # the four short lines between pictures on the original page are photo captions.
    photos = {"领导调研茶叶种植标准化示范区", "市政府质量奖现场评审", "油茶栽培标准化示范区验收评审", "标准化宣贯培训"}
    lines = [line for line in s004 if line.strip()]
    split = lines.index("深层次加强建设 打造高效能团队")
    base = "t20140822_611337"
    for part, chunk in enumerate((lines[1:split], lines[split:])):
        name = base + (f"_{part}" if part else "")
        pager = (f'<div id="page_div"></div><script type="text/javascript">createPageHTML(2, {part}, "{base}", "html");</script>\n'
                 f'<div class="pages"><a href="{base}.html">1</a> <a href="{base}_1.html">2</a></div>\n')
        trs_article(f"{col}/201408/{name}.html", lines[0], "2014-08-22 15:12", "咸宁日报", paras(chunk, captions=photos),
                    charset="gb2312", pager=pager)
    for (title, when, source, body), path, attach in (
        (EXTRA_ELEVATOR, f"{col}/202406/t20240612_5201876.html",
         '<div class="attach">附件：<a href="./P020240612388162551208.pdf">电梯安全隐患专项排查整治工作方案.pdf</a></div>\n'),
        (EXTRA_UNIFORM, f"{col}/202405/t20240521_5178830.html", ""),
    ):
        trs_article(path, title, when, source, paras(body), attach=attach)
    write_bytes(TRS, f"{col}/202406/P020240612388162551208.pdf", PDF)
    write_bytes(TRS, f"{col}/202404/P020240418511029003417.pdf", PDF)
    trs_list(f"{col}/index.html", [
        ("./202406/t20240612_5201876.html", EXTRA_ELEVATOR[0], "2024-06-12"),
        ("./202405/t20240521_5178830.html", EXTRA_UNIFORM[0], "2024-05-21"),
        ("./202404/P020240418511029003417.pdf", "2024年第一季度产品质量监督抽查结果公示", "2024-04-18"),
    ], 'createPageHTML(2, 0, "index", "html");')
    trs_list(f"{col}/index_1.html", [
        ("./201408/t20140822_611337.html", lines[0], "2014-08-22"),
        ("./201207/t20120718_385412.html", title003, "2012-07-18"),
        ("./201203/t20120301_300001.html", "襄阳市质监局召开2012年全市质监工作会议", "2012-03-01"),  # gone: 404
    ], "createPageHTML('page_div', 2, 1, 'index', 'html', 6);")
    trs_article("/ztzl/nbzl/202403/t20240308_5120018.html", "内部资料汇编", "2024-03-08 08:00", "办公室",
                "<p>本页面被 robots.txt 排除，爬虫不应抓取。</p>")
    write(TRS, "/robots.txt", "User-agent: *\nDisallow: /ztzl/nbzl/\nDisallow: /search/\n")
    write(TRS, "/index.html", TRS_HEAD.format(charset="utf-8", title="湖北省市场监督管理局", meta="")
          + '<div class="news"><a href="/xwzx/szdt/">市州动态</a></div>' + TRS_FOOT)
    write(TRS, "/_site.toml", '# served by crawler/demo_server.py\ntrap = "/xwzx/rl/calendar.html"\n\n[content_type]\n'
          f'# the GBK article: a wrong header charset on page 1, none on page 2\n'
          f'"{col}/201408/{base}.html" = "text/html; charset=UTF-8"\n"{col}/201408/{base}_1.html" = "text/html"\n')


def write_bytes(host, path, data):
    target = HERE / host / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


# ---------------------------------------------------------------- national portal (node_N.htm)
PORTAL_HEAD = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="keywords" content="质量,质监,中国质量新闻网"></head><body>
<div class="nav"><a href="/">首页</a> <a href="/zgzlb/node_4602.htm">中国质量报</a> <a href="/zj/node_4595.htm">质监</a>
<a href="/xfpd/node_4611.htm">消费</a> <a href="/ztzl/node_4620.htm">专题</a></div>
"""
PORTAL_FOOT = """<div class="stock"><h3>热图一览</h3><ul><li>股票名称 最新价 涨跌幅</li>
<li><a href="http://finance.portal-ads.example/a1.htm">监管重压下P2P退出平台增加</a></li></ul></div>
<div class="foot">中国质量新闻网 版权所有　京ICP证000000号</div></body></html>"""

EXTRA_TOYS = ("浙江开展儿童玩具产品质量专项抽查", "2016-04-15 10:20:00", "中国质量新闻网", "王海", [
    "本网讯 为迎接“六一”儿童节，浙江省质监局近日在全省范围内开展儿童玩具产品质量专项抽查，重点抽查塑胶玩具、毛绒玩具和童车等产品。",
    "此次抽查共抽取样品120批次，检验项目包括小零件、锐利边缘、增塑剂含量和可迁移元素等。抽查中发现不合格样品9批次，主要问题为小零件易脱落和增塑剂超标。",
    "浙江省质监局提醒消费者，购买儿童玩具时应查看产品是否有3C认证标志，并注意玩具适用年龄提示。",
])


def portal_article(path, title, info_html, body_html, aside=""):
    write(PORTAL, path, PORTAL_HEAD.format(title=f"{escape(title)}_中国质量新闻网")
          + f'<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="/zj/node_4595.htm">质监</a></div>\n'
          f'<div class="article"><h1>{escape(title)}</h1>\n{info_html}\n<div class="content" id="ozoom">\n{body_html}\n</div>\n'
          '<div class="share">分享到：<a href="javascript:void(0)">微博</a> <a href="javascript:void(0)">微信</a></div></div>\n'
          + aside + PORTAL_FOOT)


def clean_001() -> list[str]:
    """Seed 001's story as the portal published it: simplified, once, without pinyin or mojibake."""
    import opencc

    lines = [PINYIN.sub("", line) for line in seed("001") if line.strip()]
    lines = [line.replace("?;顒邮艿狡髽I", "。活動受到企業").replace("日?;D壳?,", "日常化。目前,")
             for line in lines if not line.startswith("- ")]
    once = list(dict.fromkeys(lines))
    return [opencc.OpenCC("t2s").convert(line) for line in once]


def build_portal():
    s002 = seed("002")
    stock = s002.index("熱圖一覽")
    info = f'<ul class="info"><li>{escape(s002[1][2:])}</li></ul>\n<div class="lanmu">{escape(s002[2])}</div>'
    sidebar = "".join(f"<li>{escape(line[2:])}</li>" for line in s002[stock + 1:])
    portal_article("/zj/content/2016-04/18/content_2808731.htm", s002[0], info,
                   paras(s002[3:stock]),
                   aside=f'<div class="rtu"><h3>{escape(s002[stock])}</h3><ul>{sidebar}</ul></div>\n')
    story = clean_001()
    portal_article("/zj/content/2011-02/21/content_1170391.htm", story[0],
                   '<div class="info">发布时间：2011-02-21 09:15:00　来源：中国质量报　责任编辑：刘丽</div>', paras(story[1:]))
    title, when, source, editor, body = EXTRA_TOYS
    portal_article("/zj/content/2016-04/15/content_2805512.htm", title,
                   f'<div class="info">发布时间：{when}　来源：{source}　责任编辑：{editor}</div>', paras(body))
    pages = {
        "/zj/node_4595.htm": ([("content/2016-04/18/content_2808731.htm", s002[0], "2016-04-18"),
                               ("content/2016-04/15/content_2805512.htm", title, "2016-04-15")],
                              '<a href="node_4595.htm">1</a> <a href="node_4595_2.htm">2</a> <a href="node_4595_2.htm">下一页</a>'),
        "/zj/node_4595_2.htm": ([("content/2011-02/21/content_1170391.htm", story[0], "2011-02-21")],
                                '<a href="node_4595.htm">上一页</a> <a href="node_4595.htm">1</a> <a href="node_4595_2.htm">2</a>'),
    }
    for path, (items, pager) in pages.items():
        rows = "\n".join(f'<li><a href="{h}">{escape(t)}</a><span class="date">{d}</span></li>' for h, t, d in items)
        write(PORTAL, path, PORTAL_HEAD.format(title="质监_中国质量新闻网")
              + f'<div class="list"><ul>\n{rows}\n</ul><div class="page">{pager}</div></div>\n' + PORTAL_FOOT)
    write(PORTAL, "/robots.txt", "User-agent: *\nDisallow: /search/\n")


# ---------------------------------------------------------------- spam mirror (generic)
MIRROR_HEAD = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}_质监资讯网</title></head><body>
<div class="ad"><a href="http://www.ad-network.example/click?id=1">点击领取红包</a></div>
<div class="nav"><a href="/">首页</a> <a href="/news/">资讯</a> <a href="/tech/">科技</a> <a href="/car/">汽车</a></div>
"""
MIRROR_FOOT = """<div class="stock"><table><tr><th>股票名称</th><th>最新价</th><th>涨跌幅</th></tr>
<tr><td>上证指数</td><td>3237.98</td><td>+0.35%</td></tr><tr><td>深证成指</td><td>11012.55</td><td>-0.12%</td></tr></table></div>
<div class="hot"><h3>热门推荐</h3><ul>
<li><a href="http://www.kuaibao-news.example/a/20230620/1.html">数独九宫格有什么解题方法和技巧</a> 2023-06-20</li>
<li><a href="http://www.kuaibao-news.example/a/20230620/2.html">智能马桶的功能有哪些</a> 2023-06-20</li></ul></div>
<div class="foot">本站内容来自网络，如有侵权请联系删除</div></body></html>"""


def mirror_article(path, lines, stop):
    """The scraped page: title, body up to ``stop`` (the first junk line), then the junk as lists."""
    end = next(i for i, line in enumerate(lines) if stop(line))
    junk = []
    for line in lines[end:]:
        if line.startswith("- ") or line == "-":
            junk.append(f"<li>{escape(line[2:])}</li>" if line != "-" else "<li></li>")
        elif line.strip():
            junk.append(f"</ul><p>{escape(line)}</p><ul>")
    write(MIRROR, path, MIRROR_HEAD.format(title=escape(lines[0]))
          + f'<div class="main"><h1>{escape(lines[0])}</h1><div class="article-content">\n{paras(lines[1:end])}\n</div>\n'
          f'<div class="related"><ul>{"".join(junk)}</ul></div></div>\n' + MIRROR_FOOT)


def build_mirror():
    s000, s001 = seed("000"), seed("001")
    mirror_article("/news/2021/1228/466d3e6909.html", s000, lambda line: line.startswith("關(guān)鍵詞"))
    mirror_article("/news/2011/0221/9d81ed6274.html", s001, lambda line: line.startswith("- "))
    pages = {
        "/news/index.html": ([("/news/2021/1228/466d3e6909.html", s000[0], "2021-12-28")], '<a href="list_2.html">下一页</a>'),
        "/news/list_2.html": ([("/news/2011/0221/9d81ed6274.html", s001[0], "2011-02-21")], '<a href="index.html">上一页</a>'),
    }
    for path, (items, pager) in pages.items():
        rows = "\n".join(f'<li><a href="{h}">{escape(t)}</a> <span>{d}</span></li>' for h, t, d in items)
        rows += "\n" + "\n".join(f'<li><a href="http://www.kuaibao-news.example/a/20230620/{n}.html">{escape(t)}</a> <span>2023-06-20</span></li>'
                                 for n, t in ((3, "用户账户控制是什么意思"), (4, "大平层是什么意思")))
        write(MIRROR, path, MIRROR_HEAD.format(title="最新资讯")
              + f'<div class="list"><h2>最新资讯</h2><ul>\n{rows}\n</ul><div class="pages">{pager}</div></div>\n' + MIRROR_FOOT)
    write(MIRROR, "/robots.txt", "User-agent: *\nAllow: /\n")


def build_challenge():
    write(CHALLENGE, "/_site.toml", '# every path answers 412 with a 瑞数-style $_ts page (crawler/demo_server.py)\n'
          'mode = "challenge-412"\n')


def main():
    for host in (TRS, PORTAL, MIRROR, CHALLENGE):
        shutil.rmtree(HERE / host, ignore_errors=True)
    build_trs()
    build_portal()
    build_mirror()
    build_challenge()
    print(f"sample sites written under {HERE}")


if __name__ == "__main__":
    main()
