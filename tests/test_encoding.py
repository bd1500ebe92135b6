"""Encodings are decided from the bytes; declarations are only candidates."""
import codecs

from crawler.encoding import decode_page, normalise_charset

TEXT = "湖北省市场监督管理局开展电梯安全专项检查"


def test_gbk_page_declared_as_utf8_is_read_as_gb18030():
    body = f'<meta charset="utf-8"><p>{TEXT}</p>'.encode("gbk")
    text, encoding = decode_page(body, header_charset="utf-8")
    assert TEXT in text and encoding == "gb18030"


def test_gb2312_declaration_is_widened_to_gb18030():
    body = f'<meta http-equiv="Content-Type" content="text/html; charset=gb2312"><p>{TEXT}鎔</p>'.encode("gb18030")
    text, encoding = decode_page(body)
    assert encoding == "gb18030" and "鎔" in text


def test_utf8_page_declared_as_gbk_stays_utf8():
    text, encoding = decode_page(f'<meta charset="gbk"><p>{TEXT}</p>'.encode("utf-8"), "gbk")
    assert encoding == "utf-8" and TEXT in text


def test_bom_wins_over_declarations():
    text, encoding = decode_page(codecs.BOM_UTF8 + TEXT.encode("utf-8"), "big5")
    assert encoding == "utf-8" and text == TEXT


def test_big5_declared_page_is_read_as_big5():
    body = '<meta charset="big5"><p>質量監督</p>'.encode("big5")
    text, encoding = decode_page(body)
    assert "質量監督" in text and encoding == "big5"


def test_undecodable_bytes_never_raise():
    text, encoding = decode_page(bytes(range(256)) * 3)
    assert isinstance(text, str) and encoding == "gb18030"


def test_charset_names():
    assert normalise_charset("GB2312") == "gb18030"
    assert normalise_charset("x-unknown") is None
