"""Streamed video reading/writing (OpenCV; GIF via Pillow) and audio copy.

Frames are read and written one at a time, so memory does not grow with the
length of the video (GIF output is the exception: Pillow assembles the
palette frames before writing, see `GifWriter`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from typing import Iterator

import numpy as np

VIDEO_EXTS = ('.mp4', '.webm', '.gif', '.avi', '.mov', '.mkv', '.m4v')
# FourCC per container, chosen among codecs the opencv-python(-headless)
# wheels can encode without extra libraries.
FOURCC = {'.mp4': 'mp4v', '.m4v': 'mp4v', '.mov': 'mp4v', '.avi': 'MJPG',
          '.mkv': 'MJPG', '.webm': 'VP80'}


def is_video(path: str) -> bool:
  return os.path.splitext(path)[1].lower() in VIDEO_EXTS


@dataclasses.dataclass
class VideoInfo:
  fps: float
  width: int
  height: int
  frames: int  # as reported by the container; may be 0/approximate


def probe(path: str) -> VideoInfo:
  """fps, size and frame count of a video (raises a clear error if unreadable)."""
  if path.lower().endswith('.gif'):
    from PIL import Image  # pylint: disable=g-import-not-at-top
    try:
      with Image.open(path) as im:
        durations = []
        for i in range(getattr(im, 'n_frames', 1)):
          im.seek(i)
          durations.append(im.info.get('duration', 100) or 100)
        fps = 1000.0 / (sum(durations) / len(durations))
        return VideoInfo(fps, im.width, im.height, len(durations))
    except OSError as e:
      raise ValueError(f'Cannot read GIF {path!r}: {e}') from e
  import cv2  # pylint: disable=g-import-not-at-top
  cap = cv2.VideoCapture(path)
  try:
    if not cap.isOpened():
      raise ValueError(f'OpenCV cannot open video {path!r} (missing file or '
                       'unsupported codec).')
    return VideoInfo(fps=float(cap.get(cv2.CAP_PROP_FPS)) or 25.0,
                     width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                     frames=int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
  finally:
    cap.release()


def read_frames(path: str) -> Iterator[np.ndarray]:
  """Yields RGB uint8 frames one at a time."""
  if path.lower().endswith('.gif'):
    from PIL import Image  # pylint: disable=g-import-not-at-top
    with Image.open(path) as im:
      for i in range(getattr(im, 'n_frames', 1)):
        im.seek(i)
        yield np.asarray(im.convert('RGB'))
    return
  import cv2  # pylint: disable=g-import-not-at-top
  cap = cv2.VideoCapture(path)
  if not cap.isOpened():
    raise ValueError(f'OpenCV cannot open video {path!r}.')
  try:
    while True:
      ok, frame = cap.read()
      if not ok:
        break
      yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
  finally:
    cap.release()


class GifWriter:
  """Writes RGB frames to an animated GIF with Pillow.

  Pillow's GIF encoder gathers the frames (as 8-bit palette images, 1/3 of
  RGB) before writing, so GIF output is the one format not fully streamed.
  """

  def __init__(self, path: str, fps: float):
    self.path, self.duration = path, int(round(1000.0 / fps))
    self.frames = []

  def write(self, frame_rgb: np.ndarray) -> None:
    from PIL import Image  # pylint: disable=g-import-not-at-top
    self.frames.append(Image.fromarray(frame_rgb).quantize(256))

  def close(self) -> None:
    if self.frames:
      self.frames[0].save(self.path, save_all=True,
                          append_images=self.frames[1:], loop=0,
                          duration=self.duration, disposal=1)
    self.frames = []


class CvWriter:
  """cv2.VideoWriter for RGB frames, codec chosen from the extension."""

  def __init__(self, path: str, fps: float, width: int, height: int):
    import cv2  # pylint: disable=g-import-not-at-top
    ext = os.path.splitext(path)[1].lower()
    fourcc = cv2.VideoWriter_fourcc(*FOURCC.get(ext, 'mp4v'))
    self.writer = cv2.VideoWriter(path, fourcc, fps, (width, height))
    if not self.writer.isOpened():
      raise ValueError(
          f'OpenCV cannot write {path!r} with codec {FOURCC.get(ext)!r}; '
          'try an .mp4 or .avi output.')
    self.size = (width, height)

  def write(self, frame_rgb: np.ndarray) -> None:
    import cv2  # pylint: disable=g-import-not-at-top
    if (frame_rgb.shape[1], frame_rgb.shape[0]) != self.size:
      frame_rgb = cv2.resize(frame_rgb, self.size)
    self.writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))

  def close(self) -> None:
    self.writer.release()


def open_writer(path: str, fps: float, width: int, height: int):
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  if path.lower().endswith('.gif'):
    return GifWriter(path, fps)
  return CvWriter(path, fps, width, height)


def copy_audio(source: str, video_only: str, output: str) -> str:
  """Muxes the audio of `source` into `video_only`, writing `output`.

  Returns a note for the summary. Without ffmpeg on PATH (or for GIF, or a
  source without audio) the silent video is moved to `output`.
  """
  ffmpeg = shutil.which('ffmpeg')
  if output.lower().endswith('.gif') or source.lower().endswith('.gif'):
    os.replace(video_only, output)
    return ''
  if ffmpeg is None:
    os.replace(video_only, output)
    return 'ffmpeg not on PATH: audio (if any) was not copied'
  base = [ffmpeg, '-y', '-loglevel', 'error', '-i', video_only, '-i', source,
          '-map', '0:v:0', '-map', '1:a?', '-c:v', 'copy', '-shortest']
  # Copy the audio stream as is; if the container refuses it, re-encode.
  for audio in (['-c:a', 'copy'], ['-c:a', 'aac'], ['-c:a', 'libopus']):
    r = subprocess.run(base + audio + [output], capture_output=True,
                       check=False)
    if r.returncode == 0:
      os.remove(video_only)
      return ''
  os.replace(video_only, output)
  return (f'ffmpeg could not copy the audio of {source!r}: '
          f'{r.stderr.decode(errors="replace").strip()[-200:]}')
