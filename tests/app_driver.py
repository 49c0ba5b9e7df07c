"""Driving the animejax web page in headless Chromium with Playwright.

Shared by tests/test_app.py and docs/make_app_screenshots.py (the README's
screenshots come from the same browser and the same steps). Chromium is
Debian's (`apt-get install chromium`), found at $CHROMIUM or on PATH;
Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket

# As the machine notes advise for a closed network: without the
# background-networking flags Chromium keeps calling Google's hosts.
CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu',
                 '--disable-quic', '--no-first-run',
                 '--disable-background-networking',
                 '--disable-component-update', '--disable-sync',
                 '--disable-dev-shm-usage']

TAB_NAMES = {'cartoonize': 'Cartoonize', 'selfie': 'Selfie to anime',
             'generate': 'Generate', 'upscale': 'Upscale'}


def chromium_path() -> str | None:
  """Debian's Chromium, or None when it is not installed."""
  path = os.environ.get('CHROMIUM')
  if path and os.path.isfile(path):
    return path
  for name in ('chromium', 'chromium-browser'):
    found = shutil.which(name)
    if found:
      return found
  return None


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@contextlib.contextmanager
def browser_page(width: int = 1280, height: int = 900):
  """A Playwright page in headless Debian Chromium."""
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium_path(),
                                args=CHROMIUM_ARGS)
    try:
      page = browser.new_page(viewport={'width': width, 'height': height})
      page.set_default_timeout(240_000)  # first requests compile on 2 CPUs
      yield page
    finally:
      browser.close()


def open_tab(page, task: str) -> None:
  page.get_by_role('tab', name=TAB_NAMES[task]).click()


def upload(page, task: str, path: str) -> None:
  """Puts a file into the tab's input image (as a drag-and-drop would)."""
  page.locator(f'#{task}-input input[type=file]').set_input_files(path)


def output_size(page, elem_id: str, previous: str | None = None
                ) -> tuple[tuple[int, int], str]:
  """((width, height), src) of the image shown in #elem_id once it loaded
  (a src other than `previous`, when given)."""
  img = page.locator(f'#{elem_id} img')
  page.wait_for_function(
      """([sel, prev]) => { const i = document.querySelector(sel);
           return i && i.complete && i.naturalWidth > 0 &&
                  (prev === null || i.src !== prev); }""",
      arg=[f'#{elem_id} img', previous])
  size = img.evaluate('i => [i.naturalWidth, i.naturalHeight]')
  return (int(size[0]), int(size[1])), img.get_attribute('src')


def run(page, task: str) -> None:
  page.locator(f'#{task}-run').click()


def error_text(page) -> str:
  """The text of the error message the page shows (waits for it)."""
  toast = page.locator('.toast-body').first
  toast.wait_for(state='visible')
  return toast.inner_text()
