// Pointer gestures on the viewer's picture: pinch, the wheel, a double click or tap and the
// zoom buttons zoom (up to 8×); a drag moves a zoomed picture; a horizontal swipe of an
// unzoomed one goes to the previous or next item. Mouse, pen and touch alike (pointer
// events); the zoom is a CSS transform set through the CSSOM, which the
// Content-Security-Policy allows.
import { useRef, useState } from "./lib.js";

const MAX_SCALE = 8;
const SWIPE_PX = 50;
const DOUBLE_TAP_MS = 300;
const CONTROLS_PX = 56;
const FIT = { scale: 1, x: 0, y: 0 };

function clampScale(scale) {
  return Math.min(Math.max(scale, 1), MAX_SCALE);
}

// Zoom to `scale` keeping the point (px, py) of the stage (from its centre) where it is.
function zoomAt(view, scale, px, py) {
  const next = clampScale(scale);
  if (next === 1) return FIT;
  const k = next / view.scale;
  return { scale: next, x: px - (px - view.x) * k, y: py - (py - view.y) * k };
}

// `onSwipe(direction)`: -1 for a swipe to the right (the previous item), +1 to the left.
export function useGestures(onSwipe) {
  const [view, setView] = useState(FIT);
  const pointers = useRef(new Map());
  const gesture = useRef(null);
  const lastTap = useRef(0);
  const viewRef = useRef(view);
  viewRef.current = view;

  function fromCentre(event) {
    const box = event.currentTarget.getBoundingClientRect();
    return [event.clientX - box.left - box.width / 2, event.clientY - box.top - box.height / 2];
  }

  function start(event) {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    if (event.target.closest("button, a, input, textarea")) return;
    const video = event.target.closest("video");
    // A video's own controls sit at its foot: gestures there are theirs (seeking).
    if (video && event.clientY > video.getBoundingClientRect().bottom - CONTROLS_PX) return;
    if (!video) event.currentTarget.setPointerCapture?.(event.pointerId);
    pointers.current.set(event.pointerId, [event.clientX, event.clientY]);
    const points = [...pointers.current.values()];
    if (points.length === 2) {
      const [[ax, ay], [bx, by]] = points;
      gesture.current = { kind: "pinch", distance: Math.hypot(ax - bx, ay - by), view: viewRef.current };
    } else if (points.length === 1) {
      gesture.current = { kind: "drag", x: event.clientX, y: event.clientY, view: viewRef.current, moved: false };
    }
  }

  function move(event) {
    if (!pointers.current.has(event.pointerId) || gesture.current === null) return;
    pointers.current.set(event.pointerId, [event.clientX, event.clientY]);
    const g = gesture.current;
    if (g.kind === "pinch" && pointers.current.size === 2) {
      const [[ax, ay], [bx, by]] = [...pointers.current.values()];
      const box = event.currentTarget.getBoundingClientRect();
      const cx = (ax + bx) / 2 - box.left - box.width / 2;
      const cy = (ay + by) / 2 - box.top - box.height / 2;
      setView(zoomAt(g.view, (g.view.scale * Math.hypot(ax - bx, ay - by)) / g.distance, cx, cy));
    } else if (g.kind === "drag") {
      const dx = event.clientX - g.x;
      const dy = event.clientY - g.y;
      if (Math.abs(dx) > 4 || Math.abs(dy) > 4) g.moved = true;
      if (g.view.scale > 1) setView({ ...g.view, x: g.view.x + dx, y: g.view.y + dy });
    }
  }

  function end(event) {
    if (!pointers.current.delete(event.pointerId)) return;
    const g = gesture.current;
    if (pointers.current.size > 0) {
      // One finger of a pinch left: the other goes on as a drag from here.
      const [[x, y]] = [...pointers.current.values()];
      gesture.current = { kind: "drag", x, y, view: viewRef.current, moved: true };
      return;
    }
    gesture.current = null;
    if (!g || g.kind !== "drag") return;
    const dx = event.clientX - g.x;
    const dy = event.clientY - g.y;
    if (g.view.scale === 1 && Math.abs(dx) > SWIPE_PX && Math.abs(dx) > 1.5 * Math.abs(dy)) {
      onSwipe(dx > 0 ? -1 : 1);
      return;
    }
    if (!g.moved && event.pointerType !== "mouse") {
      // A double tap zooms in there, or back to the whole picture.
      const now = event.timeStamp;
      if (now - lastTap.current < DOUBLE_TAP_MS) {
        lastTap.current = 0;
        toggle(event);
      } else lastTap.current = now;
    }
  }

  function toggle(event) {
    if (event.target.closest?.("video")) return; // the video's own: full screen
    const [px, py] = fromCentre(event);
    setView(viewRef.current.scale > 1 ? FIT : zoomAt(viewRef.current, 2.5, px, py));
  }

  function wheel(event) {
    if (event.target.closest?.("video")) return;
    event.preventDefault();
    const [px, py] = fromCentre(event);
    setView(zoomAt(viewRef.current, viewRef.current.scale * Math.exp(-event.deltaY / 300), px, py));
  }

  return {
    view,
    zoomBy: (factor) => setView(zoomAt(viewRef.current, viewRef.current.scale * factor, 0, 0)),
    reset: () => setView(FIT),
    handlers: {
      onPointerDown: start,
      onPointerMove: move,
      onPointerUp: end,
      onPointerCancel: end,
      onDblClick: toggle,
      onWheel: wheel,
    },
  };
}
