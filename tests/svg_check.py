#!/usr/bin/python3
"""Checks the SVG pictures of tools/plot.c (fer-train --plot, fer-eval
--confusion) for what makes them readable:

- every upright text, titles included, lies inside the picture, its width
  estimated high: 0.65 em a character, 0.72 in bold (DejaVu Sans, the
  sans-serif librsvg and browsers use on Debian, sets prose at about 0.53 em,
  0.59 bold, and digits at 0.63, 0.69 bold);
- in each panel of training curves: the value and epoch ticks are distinct,
  equally spaced multiples of a 1-2-5 step (1, 2 or 5 times a power of ten),
  labelled with exactly the decimals that step needs; the epoch labels do not
  overlap; every series shows something (a line through two points or more,
  else a dot on its point); the key covers no plotted point and no line
  between two points.

Usage: svg_check.py FILE.svg...  One line per failure; exit status 1 if any."""
import math
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def walk(elem, dx=0.0, dy=0.0):
    """(element, x offset, y offset) for elem and everything inside it."""
    m = re.match(r"translate\(\s*([-\d.]+)[ ,]+([-\d.]+)\s*\)$", elem.get("transform", ""))
    if elem.tag == NS + "g" and m:
        dx, dy = dx + float(m.group(1)), dy + float(m.group(2))
    yield elem, dx, dy
    for child in elem:
        yield from walk(child, dx, dy)


def text_box(t, dx, dy):
    """The estimated (x0, y0, x1, y1) of a <text>."""
    size = float(t.get("font-size", "16"))
    width = len(t.text or "") * size * (0.72 if t.get("font-weight") == "bold" else 0.65)
    shift = {"start": 0, "middle": 0.5, "end": 1}[t.get("text-anchor", "start")]
    x, y = float(t.get("x", "0")) + dx, float(t.get("y", "0")) + dy
    return x - shift * width, y - 0.8 * size, x - shift * width + width, y + 0.25 * size


def check_texts(root, say):
    width, height = float(root.get("width")), float(root.get("height"))
    for t, dx, dy in walk(root):
        if t.tag != NS + "text" or "rotate" in t.get("transform", ""):
            continue
        x0, y0, x1, y1 = text_box(t, dx, dy)
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            say("text %r at %.0f..%.0f x %.0f..%.0f leaves the %gx%g picture"
                % (t.text, x0, x1, y0, y1, width, height))


def check_ticks(labels, what, say):
    """labels: tick texts in axis order."""
    if len(set(labels)) != len(labels):
        return say("%s ticks repeat a label: %s" % (what, labels))
    values = [float(v) for v in labels]
    if len(values) < 2:
        return
    steps = [b - a for a, b in zip(values, values[1:])]
    step = steps[0]
    if step <= 0 or any(abs(s - step) > 1e-9 * max(1, abs(step)) for s in steps):
        return say("%s ticks are not equally spaced upwards: %s" % (what, labels))
    e = math.floor(math.log10(step) + 1e-9)
    if min(abs(step / 10**e - m) for m in (1, 2, 5)) > 1e-6:
        return say("%s tick step %g is not 1, 2 or 5 times a power of ten: %s" % (what, step, labels))
    if any(abs(v / step - round(v / step)) > 1e-6 for v in values):
        say("%s ticks are not multiples of their step %g: %s" % (what, step, labels))
    decimals = max(0, -e)
    for label in labels:
        got = len(label.split(".")[1]) if "." in label else 0
        if got != decimals:
            say("%s tick %r has %d decimals, its step %g needs %d" % (what, label, got, step, decimals))


def series_shapes(group, dx, dy):
    """The points of a series' polyline and its dots (cx, cy, r)."""
    points, dots = [], []
    for e in group:
        if e.tag == NS + "polyline":
            pairs = e.get("points").split()
            points += [(float(p.split(",")[0]) + dx, float(p.split(",")[1]) + dy) for p in pairs]
        elif e.tag == NS + "circle":
            dots.append((float(e.get("cx")) + dx, float(e.get("cy")) + dy, float(e.get("r"))))
    return points, dots


def legend_box(group, dx, dy):
    xs, ys = [], []
    for e in group:
        if e.tag == NS + "line":
            half = float(e.get("stroke-width", "1")) / 2
            xs += [float(e.get("x1")) + dx, float(e.get("x2")) + dx]
            ys += [float(e.get("y1")) + dy - half, float(e.get("y2")) + dy + half]
        elif e.tag == NS + "circle":
            r = float(e.get("r"))
            xs += [float(e.get("cx")) + dx - r, float(e.get("cx")) + dx + r]
            ys += [float(e.get("cy")) + dy - r, float(e.get("cy")) + dy + r]
        elif e.tag == NS + "text":
            x0, y0, x1, y1 = text_box(e, dx, dy)
            xs += [x0, x1]
            ys += [y0, y1]
    return min(xs), min(ys), max(xs), max(ys)


def inside(box, x, y, pad):
    return box[0] - pad <= x <= box[2] + pad and box[1] - pad <= y <= box[3] + pad


def check_panel(panel, dx, dy, say):
    kids = list(panel)
    ticks = lambda cls: [t.text for t in kids if t.tag == NS + "text" and t.get("class") == cls]
    yt = ticks("tick-y")
    if len(yt) < 2:
        say("a panel has %d value ticks" % len(yt))
    check_ticks(yt, "value", say)
    xt = ticks("tick-x")
    if not xt or not all(re.fullmatch(r"\d+", t) for t in xt):
        say("epoch ticks are not whole numbers: %s" % xt)
    else:
        check_ticks(xt, "epoch", say)
    boxes = [text_box(t, dx, dy) for t in kids if t.get("class") == "tick-x"]
    for a, b in zip(boxes, boxes[1:]):
        if a[2] > b[0]:
            say("epoch tick labels overlap: %s" % xt)
            break
    legends = [g for g in kids if g.get("class") == "legend"]
    if len(legends) != 1:
        return say("a panel has %d keys" % len(legends))
    key = legend_box(legends[0], dx, dy)
    for g in kids:
        if g.get("class") != "series":
            continue
        points, dots = series_shapes(g, dx, dy)
        if len(set(points)) < 2 and not any(r >= 2 for _, _, r in dots):
            say("a series shows nothing: points %s, no dot" % points)
        for cx, cy, r in dots:
            if inside(key, cx, cy, r):
                say("the key %s covers the dot at %.1f,%.1f" % (key, cx, cy))
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if any(inside(key, x0 + (x1 - x0) * i / 32, y0 + (y1 - y0) * i / 32, 1) for i in range(33)):
                say("the key %s covers the line %.1f,%.1f-%.1f,%.1f" % (key, x0, y0, x1, y1))
                break


def check(path):
    fails = []
    say = lambda msg: fails.append("%s: %s" % (path, msg))
    root = ET.parse(path).getroot()
    check_texts(root, say)
    panels = [(e, dx, dy) for e, dx, dy in walk(root) if e.tag == NS + "g" and e.get("class") == "panel"]
    if any(t.text == "epoch" for t in root.iter(NS + "text")) and len(panels) != 2:
        say("training curves in %d panels, not 2" % len(panels))
    for e, dx, dy in panels:
        check_panel(e, dx, dy, say)
    return fails


failures = [f for path in sys.argv[1:] for f in check(path)]
print("\n".join(failures) if failures else "svg_check: %d pictures fine" % len(sys.argv[1:]))
sys.exit(1 if failures else 0)
