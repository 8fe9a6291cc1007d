"""Read a clip: a video file (mp4/avi/mov/gif/... through PyAV) or a folder of frames
(FineDiving layout ``<root>/<match>/<idx>/*.jpg``), with a frame range and fixed-count
sampling (``num_frames`` linearly spaced, as FineDiving samples 96)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import PosekitError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class VideoReadError(PosekitError):
    """A clip that cannot be read: missing, empty, corrupt or undecodable."""

    def __init__(self, message: str, path: str | Path):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


@dataclass
class Clip:
    """Decoded RGB uint8 frames ``(H, W, 3)`` and the source index of each."""

    frames: list[np.ndarray]
    indices: np.ndarray
    fps: float
    source: str
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        h, w = self.frames[0].shape[:2]
        return w, h


def sample_indices(
    total: int, start: int = 0, end: int | None = None, num_frames: int | None = None, repeat: bool = True
) -> np.ndarray:
    """Indices ``start..end`` (inclusive), or ``num_frames`` of them linearly spaced. More
    frames than the range holds repeat frames: refused unless ``repeat``."""
    end = total - 1 if end is None else min(end, total - 1)
    if start < 0 or start > end:
        raise ValueError(f"empty frame range [{start}, {end}] for a clip of {total} frames")
    if num_frames is None:
        return np.arange(start, end + 1)
    if num_frames < 1:
        raise ValueError(f"--num-frames must be >= 1, got {num_frames}")
    if num_frames > end - start + 1 and not repeat:
        raise ValueError(
            f"--num-frames {num_frames} but the clip has {end - start + 1} frame(s) in [{start}, {end}]; "
            "pass --repeat-frames to repeat frames"
        )
    return np.linspace(start, end, num_frames).round().astype(np.int64)


def read_clip(
    path: str | Path,
    start: int = 0,
    end: int | None = None,
    num_frames: int | None = None,
    max_side: int | None = None,
    repeat: bool = False,
) -> Clip:
    """Decode a video file or a folder of images; ``max_side`` downsizes large frames.

    ``num_frames`` above the frames available is an error unless ``repeat``. A video that
    decodes to fewer frames than its container declares (a truncated download), or a GIF
    without its trailer, is read as far as it goes and flagged: ``clip.meta["truncated"]``
    and a warning. Frames of a folder must share one size."""
    path = Path(path)
    if not path.exists():
        raise VideoReadError("not found", path)
    if path.is_dir():
        clip = _read_folder(path, start, end, num_frames, repeat)
    else:
        clip = _read_video(path, start, end, num_frames, repeat)
    if max_side:
        clip.frames = [_downsize(f, max_side) for f in clip.frames]
    return clip


def _downsize(frame: np.ndarray, max_side: int) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return frame
    return cv2.resize(frame, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def _read_folder(path: Path, start: int, end: int | None, num_frames: int | None, repeat: bool = False) -> Clip:
    import cv2

    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise VideoReadError(f"no frames ({', '.join(IMAGE_SUFFIXES)}) in the folder", path)
    try:
        idx = sample_indices(len(files), start, end, num_frames, repeat)
    except ValueError as exc:
        raise VideoReadError(str(exc), path) from None
    frames = []
    for i in idx:
        img = cv2.imread(str(files[i]), cv2.IMREAD_COLOR)
        if img is None:
            raise VideoReadError("unreadable image", files[i])
        if frames and img.shape[:2] != frames[0].shape[:2]:
            raise VideoReadError(
                f"frame size {img.shape[1]}x{img.shape[0]} differs from the first frame's "
                f"{frames[0].shape[1]}x{frames[0].shape[0]} ({files[idx[0]].name}); one clip has one frame size",
                files[i],
            )
        frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    return Clip(frames, idx, 25.0, str(path), {"files": [files[i].name for i in idx]})


def _truncation(path: Path, declared: int, decoded: int) -> dict | None:
    """How a video looks cut short: fewer frames than declared, or a GIF without its trailer."""
    if declared and decoded < declared:
        return {"declared_frames": declared, "decoded_frames": decoded}
    if path.suffix.lower() == ".gif":
        with open(path, "rb") as fh:
            fh.seek(-1, 2)
            if fh.read(1) != b"\x3b":  # every complete GIF ends with its trailer byte ';'
                return {"declared_frames": None, "decoded_frames": decoded, "reason": "no GIF trailer"}
    return None


def _frame_index(frame: Any, stream: Any, fps: float, counter: int) -> int:
    """The frame's index in the video from its timestamp (constant frame rate), else its
    position in decoding order."""
    if frame.pts is None or stream.time_base is None:
        return counter
    t0 = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    return int(round((float(frame.pts * stream.time_base) - t0) * fps))


def _decode(container: Any, stream: Any, fps: float, start: int, end: int | None) -> tuple[list, list[int]]:
    """Decode frames ``start..end`` (all when ``end`` is None). A later ``start`` seeks to
    the keyframe before it first, so cutting a dive out of a long broadcast does not decode
    the hours before it; frames outside the range are never converted."""
    import av

    seeked = end is not None and start > 0 and stream.time_base is not None
    if seeked:  # frame indices then come from timestamps (a constant frame rate: broadcasts)
        target = start / fps + (float(stream.start_time * stream.time_base) if stream.start_time else 0.0)
        container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
    frames: list = []
    index: list[int] = []
    counter = 0
    try:
        for f in container.decode(stream):
            i = _frame_index(f, stream, fps, counter) if seeked else counter
            counter += 1
            if end is not None and i > end:
                break
            if end is None or i >= start:
                frames.append(f.to_ndarray(format="rgb24"))
                index.append(i)
    except (av.error.FFmpegError, ValueError):
        if not frames:
            raise
    return frames, index


def _read_video(path: Path, start: int, end: int | None, num_frames: int | None, repeat: bool = False) -> Clip:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError("no video stream", path)
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 25.0
            declared = int(stream.frames or 0)
            all_frames, index = _decode(container, stream, fps, start, end)
    except VideoReadError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoReadError(f"cannot decode ({type(exc).__name__}: {exc})", path) from None
    if not all_frames:
        raise VideoReadError(f"no frames decoded in [{start}, {end}] (empty, corrupt or too short)", path)
    if end is not None:  # a cut: the frames of the range, by their index in the video
        return _cut(path, all_frames, index, start, end, num_frames, repeat, fps)
    truncated = _truncation(path, declared, len(all_frames))
    if truncated:
        import warnings

        warnings.warn(f"{path}: truncated video, read {len(all_frames)} frame(s) ({truncated})", stacklevel=3)
    try:
        idx = sample_indices(len(all_frames), start, end, num_frames, repeat)
    except ValueError as exc:
        raise VideoReadError(str(exc), path) from None
    return Clip([all_frames[i] for i in idx], idx, fps, str(path), {"truncated": truncated} if truncated else {})


def _cut(
    path: Path, frames: list, index: list[int], start: int, end: int, num_frames: int | None, repeat: bool, fps: float
) -> Clip:
    """Frames ``start..end`` of a video decoded by :func:`_decode` (``num_frames`` of them
    linearly spaced); a range that runs past the video's end is flagged truncated."""
    last = index[-1]
    truncated = f"the range ends at frame {end} but the video at {last}" if last < end else None
    if truncated:
        import warnings

        warnings.warn(f"{path}: {truncated}", stacklevel=4)
    try:
        rel = sample_indices(len(frames), 0, None, num_frames, repeat)
    except ValueError as exc:
        raise VideoReadError(f"{exc} (frames {start}..{min(end, last)})", path) from None
    idx = np.asarray(index, dtype=np.int64)[rel]
    return Clip([frames[i] for i in rel], idx, fps, str(path), {"truncated": truncated} if truncated else {})


def write_video(path: str | Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write RGB frames as mp4 (h264, mpeg4 fallback) or GIF, chosen by the suffix; atomic."""
    from posekit.io import atomic_path

    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        if path.suffix.lower() == ".gif":
            from PIL import Image

            ims = [Image.fromarray(f) for f in frames]
            ims[0].save(tmp, save_all=True, append_images=ims[1:], duration=int(1000 / fps), loop=0)
        else:
            import av

            h, w = frames[0].shape[:2]
            with av.open(str(tmp), mode="w", format="mp4") as out:
                try:
                    stream = out.add_stream("h264", rate=round(fps))
                except (av.error.FFmpegError, ValueError):
                    stream = out.add_stream("mpeg4", rate=round(fps))
                stream.width, stream.height = w - w % 2, h - h % 2
                stream.pix_fmt = "yuv420p"
                for f in frames:
                    frame = av.VideoFrame.from_ndarray(
                        np.ascontiguousarray(f[: stream.height, : stream.width]), format="rgb24"
                    )
                    for packet in stream.encode(frame):
                        out.mux(packet)
                for packet in stream.encode():
                    out.mux(packet)
    return path
