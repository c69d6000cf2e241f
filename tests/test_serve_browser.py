"""``vdm serve`` in a real headless browser: an editor clicks through history.

Debian's Chromium, driven by its ChromeDriver through Selenium (never a
downloaded browser).  Without a browser the tests skip, saying so, except
in CI, where they must run (.ci/run installs chromium and chromium-driver).

Screenshots of the main pages are taken on the way; with
``VDM_SERVE_SCREENSHOTS=doc/_static`` they replace those of the docs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from serve_helpers import Served, write_wiki
from sqlalchemy import create_engine

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not os.environ.get("CI"):
    pytest.skip("no Chromium browser and driver installed (apt-get install chromium "
                "chromium-driver); CI installs them and runs these tests",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402 - only once a browser is known to exist
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1200,820"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    # A relative path, as `vdm serve --url sqlite:///wiki.db` is run: the
    # screenshots show the URL of the database in their header.
    folder = tmp_path_factory.mktemp("wiki")
    here = Path.cwd()
    os.chdir(folder)
    try:
        engine = create_engine("sqlite:///wiki.db")
        write_wiki(engine)
        engine.dispose()
        with Served("sqlite:///wiki.db") as server:
            yield server
    finally:
        os.chdir(here)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(request, tmp_path_factory):
    wanted = os.environ.get("VDM_SERVE_SCREENSHOTS")
    if wanted:
        return request.config.invocation_params.dir / wanted
    return tmp_path_factory.mktemp("screenshots")


def arrive(browser, ending: str) -> None:
    """Wait until a click has taken the browser to a page whose address ends so."""
    WebDriverWait(browser, 30).until(
        lambda b: b.current_url.endswith(ending)
        and b.execute_script("return document.readyState") == "complete")


def snap(browser, shots: Path, name: str) -> None:
    path = shots / f"serve-{name}.png"
    assert browser.save_screenshot(str(path)), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_from_the_log_to_a_revision_to_an_object_to_a_diff(served, browser, shots):
    browser.get(served.base + "/")
    assert browser.title == "Revision log · vdm"
    rows = browser.find_elements(By.CSS_SELECTOR, "table.log tr")[1:]
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == ["r6", "r5", "r4", "r3", "r2", "r1"]
    snap(browser, shots, "log")

    browser.find_element(By.LINK_TEXT, "r2").click()
    arrive(browser, "/revision/2")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Revision r2"
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "table.changes td")]
    assert cells == ["wiki_page", "1", "updated", "body",
                     "Hello wrold, this is the wiki.", "Hello world, this is our wiki."]
    snap(browser, shots, "revision")

    browser.find_element(By.CSS_SELECTOR, "table.changes a[href='/object/wiki_page/1']").click()
    arrive(browser, "/object/wiki_page/1")
    assert browser.find_element(By.TAG_NAME, "h1").text == "wiki_page 1"
    blame = {tr.find_elements(By.TAG_NAME, "td")[0].text: tr.find_elements(By.TAG_NAME, "td")[2].text
             for tr in browser.find_elements(By.CSS_SELECTOR, "table.blame tr")[1:]}
    assert blame["body"].startswith("r2 ") and "bob" in blame["body"]
    assert blame["title"].startswith("r3 ")
    snap(browser, shots, "object")

    diffs = browser.find_elements(By.CSS_SELECTOR, "ol.timeline a.diff")
    assert len(diffs) == 4
    diffs[-1].click()  # the oldest change: r1 against r2
    arrive(browser, "/diff/wiki_page/1?from=1&to=2")
    assert [s.text for s in browser.find_elements(By.CSS_SELECTOR, "span.removed")] == ["wrold", "the"]
    assert [s.text for s in browser.find_elements(By.CSS_SELECTOR, "span.added")] == ["world", "our"]
    snap(browser, shots, "diff")


def test_the_filters_and_the_version_chooser_are_plain_get_forms(served, browser):
    browser.get(served.base + "/")
    browser.find_element(By.NAME, "author").send_keys("ann")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    arrive(browser, "/?author=ann&since=&until=&table=")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.log tr")[1:]
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == ["r5", "r3", "r1"]

    browser.get(served.base + "/diff/wiki_page/1")
    browser.find_element(By.CSS_SELECTOR, "select[name=from] option[value='1']").click()
    browser.find_element(By.CSS_SELECTOR, "select[name=to] option[value='3']").click()
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    arrive(browser, "/diff/wiki_page/1?from=1&to=3")
    assert "r1 against r3" in browser.find_element(By.TAG_NAME, "h1").text


def test_the_model_as_of_a_revision_is_browsed_by_its_links(served, browser, shots):
    browser.get(served.base + "/revision/3")
    browser.find_element(By.PARTIAL_LINK_TEXT, "the model as of r3").click()
    arrive(browser, "/model/3")
    browser.find_element(By.LINK_TEXT, "wiki_page_tag").click()
    arrive(browser, "/model/3/wiki_page_tag")
    snap(browser, shots, "model")
    browser.find_element(By.CSS_SELECTOR, "a[href='/model/3/wiki_tag/2']").click()
    arrive(browser, "/model/3/wiki_tag/2")
    values = {tr.find_element(By.TAG_NAME, "th").text: tr.find_element(By.TAG_NAME, "td").text
              for tr in browser.find_elements(By.CSS_SELECTOR, "main table tr")}
    assert values == {"id": "2", "name": "draft", "state": "active"}
    links = browser.find_elements(By.CSS_SELECTOR, "li.deleted-link")
    assert [li.text.split(" (")[0] for li in links] == ["wiki_page_tag 2"]

    browser.get(served.base + "/verify")
    assert "History sound: 3 versioned tables checked" in browser.find_element(By.CLASS_NAME, "sound").text
    snap(browser, shots, "verify")


def test_an_error_page_in_the_browser(served, browser):
    browser.get(served.base + "/revision/99")
    assert browser.find_element(By.TAG_NAME, "h1").text == "404 Not found"
    assert "there is no revision 99" in browser.find_element(By.CLASS_NAME, "error").text
