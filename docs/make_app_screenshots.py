"""Screenshots of each tab of the web app, for the README.

  python docs/make_app_screenshots.py --out docs \\
      --weights shinkai=../shared/weights/AnimeGANv3_Shinkai_37.pb \\
      --weights selfie=runs/ugatit_small --weights faces=runs/dragan64 \\
      --weights x4=runs/srresnet_anime \\
      --photo ../shared/data/photos/val/1.jpg \\
      --face ../shared/data/faces/selfie2anime/trainA/xxx.jpg \\
      --small ../shared/data/sr/anime_hr/xxx.png

Starts the app on a free local port, drives it in headless Chromium with
the steps of tests/test_app.py (tests/app_driver.py), and writes
app_<tab>.jpg for every tab that has a model.
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'tests')]

import app_driver  # pylint: disable=wrong-import-position
from animejax import app  # pylint: disable=wrong-import-position


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--weights', action='append', default=[])
  p.add_argument('--photo', required=True, help='for Cartoonize')
  p.add_argument('--face', required=True, help='for Selfie to anime')
  p.add_argument('--small', required=True, help='for Upscale')
  p.add_argument('--seed', type=int, default=7)
  p.add_argument('--out', default=os.path.join(ROOT, 'docs'))
  args = p.parse_args()
  port = app_driver.free_port()
  server = app.launch(args.weights, port=port, cache=False, block=False)
  inputs = {'cartoonize': args.photo, 'selfie': args.face,
            'upscale': args.small}
  try:
    with app_driver.browser_page(1280, 820) as page:
      page.goto(f'http://127.0.0.1:{port}/')
      for task in app_driver.TAB_NAMES:
        app_driver.open_tab(page, task)
        if page.locator(f'#{task}-missing').count():
          print(f'{task}: no model, skipped')
          continue
        if task in inputs:
          app_driver.upload(page, task, inputs[task])
        else:
          page.locator('#seed input').fill(str(args.seed))
        app_driver.run(page, task)
        size, _ = app_driver.output_size(page, f'{task}-output')
        path = os.path.join(args.out, f'app_{task}.jpg')
        page.screenshot(path=path, full_page=True, type='jpeg', quality=90)
        print(f'{path}: output {size[0]}x{size[1]}')
  finally:
    server.close()


if __name__ == '__main__':
  main()
