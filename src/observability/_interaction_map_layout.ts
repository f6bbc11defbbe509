// Where the interaction map's modules, edges and labels go: pure geometry,
// the same for the same map, drawn by the report as SVG.
//
// Modules sit on an ellipse in name order, spaced by their boxes' sizes so
// that no two touch (boxes side by side at the top and bottom need more
// room than boxes stacked at the sides). Edges between two modules are
// quadratic curves drawn in towards the middle of the ellipse (away from the
// other modules) that bend to the right of their direction, so A→B and B→A
// bend apart; several edges between the same two modules bend further one
// by one. Edges from a module to itself are loops on the outer side of
// its box. Every label is placed where it overlaps no module and no other
// label: first on its edge or beside it, at the middle or further along,
// then on rings around its edge's middle, joined to it by a leader line.
// Text is monospace, so a label's width is known from its characters.

import type {
  InteractionEdge,
  InteractionEntry,
  InteractionMap,
} from "./report.ts";
import { formatMs } from "./_report_collector.ts";

/** The width of one character of 11px monospace text (0.6 em and a margin). */
export const CHARACTER_PX = 6.8;
/** The width of one character of a module's name: 12px bold monospace. */
export const NAME_CHARACTER_PX = 7.4;
/** The height of a line of 11px text. */
export const LINE_PX = 13;
/** The height of the line of a module's name. */
export const NAME_LINE_PX = 15;
/** Space between an edge label's text and its border. */
export const LABEL_PADDING = { x: 5, y: 3 } as const;
/** Space between a module's text and its border. */
export const NODE_PADDING = { x: 9, y: 5 } as const;

// Longer names are cut with an ellipsis; the full name is in the tooltip.
const MAX_NAME_COLUMNS = 24;
const MAX_TYPE_COLUMNS = 30;
// The space kept between two modules' boxes, and around a label.
const NODE_GAP = 18;
// Modules are placed around the ellipse in steps of this many radians.
const ANGLE_STEP = 0.002;
const LABEL_GAP = 3;
// How far apart edges between the same two modules bend, at their middle.
const FIRST_BEND = 18;
const BEND_STEP = 30;
// How far an edge's control point moves towards the ellipse's centre.
const INWARD = 0.45;
const ARROW_LENGTH = 9;
const ARROW_HALF_WIDTH = 4.5;
// Wider than this the page needs a horizontal scroll bar in a window 1280
// pixels wide: an ellipse that would be wider grows taller instead, and a
// map still too wide (its outer labels and loops) is laid out again on a
// narrower ellipse.
const MAX_WIDTH = 1216;
const MAX_RADIUS_X = 420;
const RADIUS_X_STEP = 30;
// Smaller, the labels of a few modules crowd the middle.
const MIN_RADIUS_X = 250;
const MARGIN = 12;

/** A point in the map's pixels. */
export interface Point {
  readonly x: number;
  readonly y: number;
}

/** A rectangle by its top left corner. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** How a line of text is drawn. */
export type Tone = "name" | "type" | "plain" | "entry" | "muted" | "error";

/** One line of a label or a module's box, centred in it. */
export interface TextLine {
  readonly text: string;
  readonly tone: Tone;
}

/** A module: its box and the lines in it. */
export interface NodeLayout {
  readonly name: string;
  readonly box: Box;
  readonly lines: readonly TextLine[];
  /** Dispatches from outside, summed over the module's entry types. */
  readonly entries: number;
  /** Dispatches whose cause is not in the recording. */
  readonly unresolved: number;
}

/** An edge: its curve, its arrowhead and its label. */
export interface EdgeLayout {
  readonly edge: InteractionEdge;
  /**
   * The curve's points: start, control and end of a quadratic curve, or
   * start, two controls and end of a cubic one (a loop).
   */
  readonly curve: readonly Point[];
  /** The arrowhead: tip first. */
  readonly arrow: readonly Point[];
  /** The stroke's width: thicker for more dispatches. */
  readonly strokeWidth: number;
  /** The label's box. */
  readonly label: Box;
  readonly lines: readonly TextLine[];
  /**
   * Where the label was moved from when it could not sit on or beside its
   * edge: the point on the edge a leader line joins it to.
   */
  readonly leader?: Point;
}

/** The map laid out: everything inside `width` × `height`. */
export interface MapLayout {
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly NodeLayout[];
  readonly edges: readonly EdgeLayout[];
}

/** Columns a text takes in a monospace font: 2 for wide (East Asian) ones. */
export function columns(text: string): number {
  let width = 0;
  for (const character of text) {
    width += character.codePointAt(0)! >= 0x1100 ? 2 : 1;
  }
  return width;
}

function cut(text: string, max: number): string {
  if (columns(text) <= max) return text;
  let kept = "";
  for (const character of text) {
    if (columns(kept + character) > max - 1) break;
    kept += character;
  }
  return `${kept}…`;
}

/** The size of a block of lines with `padding` around them. */
export function blockSize(
  lines: readonly TextLine[],
  padding: { readonly x: number; readonly y: number },
): { width: number; height: number } {
  let width = 0;
  let height = 0;
  for (const line of lines) {
    const name = line.tone === "name";
    width = Math.max(
      width,
      columns(line.text) * (name ? NAME_CHARACTER_PX : CHARACTER_PX),
    );
    height += name ? NAME_LINE_PX : LINE_PX;
  }
  return { width: width + 2 * padding.x, height: height + 2 * padding.y };
}

/** The lines of an edge's label: the message (without its module), count and p95, failures. */
function edgeLines(edge: InteractionEdge): TextLine[] {
  const own = edge.type.startsWith(`${edge.to}.`)
    ? edge.type.slice(edge.to.length + 1)
    : edge.type;
  const lines: TextLine[] = [
    { text: cut(own, MAX_TYPE_COLUMNS), tone: "type" },
    { text: `${edge.count}× p95 ${formatMs(edge.p95Ms)} ms`, tone: "plain" },
  ];
  if (edge.errors > 0) {
    lines.push({ text: `${edge.errors} failed`, tone: "error" });
  }
  return lines;
}

function nodeLines(
  name: string,
  handled: number,
  errors: number,
  entries: number,
  unresolved: number,
): TextLine[] {
  const lines: TextLine[] = [
    { text: cut(name === "" ? '""' : name, MAX_NAME_COLUMNS), tone: "name" },
    { text: `${handled} handled`, tone: "plain" },
  ];
  if (errors > 0) lines.push({ text: `${errors} failed`, tone: "error" });
  if (entries > 0) {
    lines.push({ text: `→ ${entries} from outside`, tone: "entry" });
  }
  if (unresolved > 0) {
    lines.push({ text: `? ${unresolved} cause unknown`, tone: "muted" });
  }
  return lines;
}

// ---------------------------------------------------------------------------
// Geometry

function add(a: Point, b: Point, scale = 1): Point {
  return { x: a.x + b.x * scale, y: a.y + b.y * scale };
}

function minus(a: Point, b: Point): Point {
  return { x: a.x - b.x, y: a.y - b.y };
}

function unit(vector: Point): Point {
  const length = Math.hypot(vector.x, vector.y);
  return length === 0
    ? { x: 0, y: -1 }
    : { x: vector.x / length, y: vector.y / length };
}

function rotate(vector: Point, angle: number): Point {
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  return {
    x: vector.x * cos - vector.y * sin,
    y: vector.x * sin + vector.y * cos,
  };
}

/** The point where a ray from the centre of `box` along `direction` leaves it. */
function exit(box: Box, direction: Point, gap = 0): Point {
  const center = centerOf(box);
  const d = unit(direction);
  const halfWidth = box.width / 2 + gap;
  const halfHeight = box.height / 2 + gap;
  const t = Math.min(
    d.x === 0 ? Infinity : halfWidth / Math.abs(d.x),
    d.y === 0 ? Infinity : halfHeight / Math.abs(d.y),
  );
  return add(center, d, t);
}

function centerOf(box: Box): Point {
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

function boxAt(center: Point, size: { width: number; height: number }): Box {
  return {
    x: center.x - size.width / 2,
    y: center.y - size.height / 2,
    width: size.width,
    height: size.height,
  };
}

/** Whether two boxes come closer than `gap`. */
export function overlaps(a: Box, b: Box, gap = 0): boolean {
  return a.x < b.x + b.width + gap && b.x < a.x + a.width + gap &&
    a.y < b.y + b.height + gap && b.y < a.y + a.height + gap;
}

/** A point of the curve (quadratic or cubic) at `t`. */
export function pointOn(curve: readonly Point[], t: number): Point {
  const s = 1 - t;
  const [p0, p1, p2, p3] = curve as [Point, Point, Point, Point?];
  if (p3 === undefined) {
    return {
      x: s * s * p0.x + 2 * s * t * p1.x + t * t * p2.x,
      y: s * s * p0.y + 2 * s * t * p1.y + t * t * p2.y,
    };
  }
  return {
    x: s * s * s * p0.x + 3 * s * s * t * p1.x + 3 * s * t * t * p2.x +
      t * t * t * p3.x,
    y: s * s * s * p0.y + 3 * s * s * t * p1.y + 3 * s * t * t * p2.y +
      t * t * t * p3.y,
  };
}

/** The unit tangent of the curve at `t`, by a small difference. */
function tangentAt(curve: readonly Point[], t: number): Point {
  return unit(
    minus(
      pointOn(curve, Math.min(1, t + 0.01)),
      pointOn(curve, Math.max(0, t - 0.01)),
    ),
  );
}

function arrowhead(tip: Point, direction: Point): Point[] {
  const d = unit(direction);
  const base = add(tip, d, -ARROW_LENGTH);
  const normal = { x: -d.y, y: d.x };
  return [
    tip,
    add(base, normal, ARROW_HALF_WIDTH),
    add(base, normal, -ARROW_HALF_WIDTH),
  ];
}

// ---------------------------------------------------------------------------
// Modules on an ellipse

interface Size {
  readonly width: number;
  readonly height: number;
}

function onEllipse(angle: number, rx: number, ry: number): Point {
  return { x: rx * Math.cos(angle), y: ry * Math.sin(angle) };
}

function clear(a: Point, sa: Size, b: Point, sb: Size): boolean {
  return !overlaps(boxAt(a, sa), boxAt(b, sb), NODE_GAP);
}

/**
 * The smallest angle after `angle` at which a box of size `next` clears one
 * of size `size` at `angle`, to ANGLE_STEP; Infinity past half a turn.
 */
function gapAfter(
  angle: number,
  size: Size,
  next: Size,
  rx: number,
  ry: number,
): number {
  const here = onEllipse(angle, rx, ry);
  for (let gap = ANGLE_STEP; gap <= Math.PI; gap += ANGLE_STEP) {
    if (clear(here, size, onEllipse(angle + gap, rx, ry), next)) return gap;
  }
  return Infinity;
}

/**
 * Angles for boxes of `sizes` around an ellipse of radii `rx` and `ry`, in
 * order from `start`, each `extra` radians past the first angle clear of
 * the box before it; undefined when the last is not that far from the
 * first, one turn on.
 */
function walk(
  sizes: readonly Size[],
  rx: number,
  ry: number,
  start: number,
  extra: number,
): number[] | undefined {
  const angles = [start];
  let angle = start;
  for (let index = 1; index <= sizes.length; index++) {
    angle += gapAfter(
      angle,
      sizes[index - 1]!,
      sizes[index % sizes.length]!,
      rx,
      ry,
    ) + extra;
    if (angle > start + 2 * Math.PI) return undefined;
    if (index < sizes.length) angles.push(angle);
  }
  return angles;
}

/**
 * Angles for boxes of `sizes` around an ellipse of radii `rx` and `ry`, in
 * order from `start`, such that no two boxes come closer than NODE_GAP; or
 * undefined when they do not fit. Each box goes at the first angle clear of
 * the one before plus a share of what is left of the turn, the largest
 * share with which the last box still clears the first.
 */
function anglesOn(
  sizes: readonly Size[],
  rx: number,
  ry: number,
  start: number,
): number[] | undefined {
  if (walk(sizes, rx, ry, start, 0) === undefined) return undefined;
  let low = 0;
  let high = (2 * Math.PI) / sizes.length;
  for (let round = 0; round < 24; round++) {
    const middle = (low + high) / 2;
    if (walk(sizes, rx, ry, start, middle) === undefined) high = middle;
    else low = middle;
  }
  const angles = walk(sizes, rx, ry, start, low)!;
  const points = angles.map((a) => onEllipse(a, rx, ry));
  for (let a = 0; a < sizes.length; a++) {
    for (let b = a + 1; b < sizes.length; b++) {
      if (!clear(points[a]!, sizes[a]!, points[b]!, sizes[b]!)) {
        return undefined;
      }
    }
  }
  return angles;
}

/**
 * The centres of boxes of `sizes` on the smallest ellipse (wider than tall,
 * and no wider than MAX_RADIUS_X) that holds them apart and leaves inside it
 * about `area` square pixels for the edges' labels.
 */
function ellipseLayout(
  sizes: readonly Size[],
  area: number,
  maxRadiusX: number,
): { centers: Point[]; rx: number; ry: number } {
  if (sizes.length === 1) return { centers: [{ x: 0, y: 0 }], rx: 0, ry: 0 };
  const start = sizes.length === 2 ? Math.PI : -Math.PI / 2;
  for (let scale = Math.min(MIN_RADIUS_X, maxRadiusX);; scale *= 1.04) {
    const rx = Math.min(scale, maxRadiusX);
    const ry = scale * 0.72;
    if (Math.PI * rx * ry < area) continue;
    const angles = anglesOn(sizes, rx, ry, start);
    if (angles !== undefined) {
      return { centers: angles.map((a) => onEllipse(a, rx, ry)), rx, ry };
    }
  }
}

// ---------------------------------------------------------------------------
// Labels

/**
 * Places labels so that none overlaps another or a module. Of the clear
 * candidate centres of a label, the one whose box covers the fewest points
 * of other edges wins, the earlier on a tie; when none is clear, the same
 * on the first ring around its anchor that has a clear place.
 */
function labelPlacer(obstacles: readonly Box[], curves: readonly Point[][]) {
  const placed: Box[] = [...obstacles];
  function free(box: Box): boolean {
    for (const other of placed) {
      if (overlaps(box, other, LABEL_GAP)) return false;
    }
    return true;
  }
  function covered(box: Box, own: number): number {
    let count = 0;
    curves.forEach((points, index) => {
      if (index === own) return;
      for (const point of points) {
        if (
          point.x >= box.x && point.x <= box.x + box.width &&
          point.y >= box.y && point.y <= box.y + box.height
        ) count++;
      }
    });
    return count;
  }
  function best(size: Size, centers: readonly Point[], own: number) {
    let chosen: Box | undefined;
    let fewest = Infinity;
    for (const center of centers) {
      const box = boxAt(center, size);
      if (!free(box)) continue;
      const count = covered(box, own);
      if (count < fewest) {
        chosen = box;
        fewest = count;
        if (count === 0) break;
      }
    }
    return chosen;
  }
  return (
    own: number,
    size: Size,
    candidates: readonly Point[],
    anchor: Point,
  ): { box: Box; moved: boolean } => {
    const near = best(size, candidates, own);
    if (near !== undefined) {
      placed.push(near);
      return { box: near, moved: false };
    }
    // Rings 8 pixels apart, each tried every 8 pixels round, from the top;
    // past everything drawn there is always room, so this ends.
    for (let radius = 8;; radius += 8) {
      const steps = Math.max(8, Math.floor((2 * Math.PI * radius) / 8));
      const ring: Point[] = [];
      for (let step = 0; step < steps; step++) {
        const angle = -Math.PI / 2 + (2 * Math.PI * step) / steps;
        ring.push(
          add(anchor, { x: Math.cos(angle), y: Math.sin(angle) }, radius),
        );
      }
      const far = best(size, ring, own);
      if (far !== undefined) {
        placed.push(far);
        return { box: far, moved: true };
      }
    }
  };
}

/** How far a box of `size` reaches from its centre along `direction`. */
function reach(size: Size, direction: Point): number {
  return (Math.abs(direction.x) * size.width +
    Math.abs(direction.y) * size.height) / 2;
}

/** Candidate centres on and beside a curve, from its middle outwards. */
function alongCurve(curve: readonly Point[], size: Size): Point[] {
  const candidates: Point[] = [];
  for (const t of [0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8]) {
    const point = pointOn(curve, t);
    const tangent = tangentAt(curve, t);
    const normal = { x: -tangent.y, y: tangent.x };
    const beside = reach(size, normal) + 2;
    candidates.push(
      point,
      add(point, normal, beside),
      add(point, normal, -beside),
    );
  }
  return candidates;
}

// ---------------------------------------------------------------------------
// The map

function strokeWidthOf(count: number): number {
  return +(1.3 + Math.min(2.7, Math.log10(Math.max(1, count)) * 0.8))
    .toFixed(2);
}

function sum(list: readonly InteractionEntry[], module: string): number {
  let total = 0;
  for (const entry of list) if (entry.to === module) total += entry.count;
  return total;
}

/**
 * Lays out `map`: modules on an ellipse, edges as curves and loops, labels
 * where they overlap nothing. The same map gives the same layout, no wider
 * than MAX_WIDTH when a narrower ellipse can make it so.
 */
export function layoutInteractionMap(map: InteractionMap): MapLayout {
  let narrowest: MapLayout | undefined;
  for (
    let maxRadiusX = MAX_RADIUS_X;
    maxRadiusX >= MIN_RADIUS_X - RADIUS_X_STEP;
    maxRadiusX -= RADIUS_X_STEP
  ) {
    const layout = layoutOn(map, maxRadiusX);
    if (layout.width <= MAX_WIDTH) return layout;
    if (narrowest === undefined || layout.width < narrowest.width) {
      narrowest = layout;
    }
  }
  return narrowest!;
}

function layoutOn(map: InteractionMap, maxRadiusX: number): MapLayout {
  const modules = map.modules;
  if (modules.length === 0) {
    return { width: 2 * MARGIN, height: 2 * MARGIN, nodes: [], edges: [] };
  }
  const index = new Map(modules.map((module, i) => [module.name, i]));
  const nodeText = modules.map((module) => {
    const entries = sum(map.entries, module.name);
    const unresolved = sum(map.unresolved, module.name);
    return {
      entries,
      unresolved,
      lines: nodeLines(
        module.name,
        module.handled,
        module.errors,
        entries,
        unresolved,
      ),
    };
  });
  const sizes = nodeText.map((text) => blockSize(text.lines, NODE_PADDING));
  const labelText = map.edges.map(edgeLines);
  const labelSizes = labelText.map((lines) => blockSize(lines, LABEL_PADDING));
  // Room inside the ellipse for twice the labels' area.
  let labelArea = 0;
  for (const size of labelSizes) labelArea += 2 * size.width * size.height;
  const { centers, rx, ry } = ellipseLayout(sizes, labelArea, maxRadiusX);
  const boxes = centers.map((center, i) => boxAt(center, sizes[i]!));
  // A module's outer side: the ellipse's normal where it sits.
  const outward = centers.map((center) =>
    rx === 0 ? { x: 0, y: -1 } : unit({
      x: center.x / (rx * rx),
      y: center.y / (ry * ry),
    })
  );

  // Curves first: the bend of each depends on its neighbours.
  const curves: (readonly Point[])[] = new Array(map.edges.length);
  const arrows: (readonly Point[])[] = new Array(map.edges.length);
  const byPair = new Map<string, number[]>();
  const loops = new Map<number, number[]>();
  map.edges.forEach((edge, i) => {
    const from = index.get(edge.from)!;
    const to = index.get(edge.to)!;
    if (from === to) {
      const list = loops.get(from) ?? [];
      list.push(i);
      loops.set(from, list);
      return;
    }
    const key = from < to ? `${from} ${to}` : `${to} ${from}`;
    const list = byPair.get(key) ?? [];
    list.push(i);
    byPair.set(key, list);
  });
  for (const list of byPair.values()) {
    const first = map.edges[list[0]!]!;
    const forward = list.filter((i) => map.edges[i]!.from === first.from);
    const backward = list.filter((i) => map.edges[i]!.from !== first.from);
    const bends = (group: number[], both: boolean) =>
      group.forEach((edgeIndex, position) => {
        const bend = both
          ? FIRST_BEND + position * BEND_STEP
          : (position - (group.length - 1) / 2) * BEND_STEP;
        const edge = map.edges[edgeIndex]!;
        const a = boxes[index.get(edge.from)!]!;
        const b = boxes[index.get(edge.to)!]!;
        const ca = centerOf(a);
        const cb = centerOf(b);
        const direction = unit(minus(cb, ca));
        // The right-hand side of the direction, on screen (y down).
        const right = { x: -direction.y, y: direction.x };
        // Pulled towards the middle of the ellipse, an edge between two
        // modules on the same side passes inside the others' boxes, not
        // under them. A quadratic curve passes half way to its control point.
        const middle = {
          x: (ca.x + cb.x) / 2 * (1 - INWARD),
          y: (ca.y + cb.y) / 2 * (1 - INWARD),
        };
        const control = add(middle, right, 2 * bend);
        const start = exit(a, minus(control, ca), 2);
        const tip = exit(b, minus(control, cb), 2);
        const end = add(tip, unit(minus(tip, control)), -(ARROW_LENGTH - 1));
        curves[edgeIndex] = [start, control, end];
        arrows[edgeIndex] = arrowhead(tip, minus(tip, control));
      });
    bends(forward, backward.length > 0);
    bends(backward, forward.length > 0);
  }
  for (const [node, list] of loops) {
    const box = boxes[node]!;
    const out = outward[node]!;
    list.forEach((edgeIndex, position) => {
      const spread = 0.3 + 0.05 * position;
      const length = 40 + 34 * position;
      const start = exit(box, rotate(out, -spread), 2);
      const tip = exit(box, rotate(out, spread), 2);
      const c1 = add(start, rotate(out, -0.5), length);
      const c2 = add(tip, rotate(out, 0.5), length);
      const end = add(tip, unit(minus(tip, c2)), -(ARROW_LENGTH - 1));
      curves[edgeIndex] = [start, c1, c2, end];
      arrows[edgeIndex] = arrowhead(tip, minus(tip, c2));
    });
  }

  // Points along each edge, which a label had better not hide.
  const samples = curves.map((curve) => {
    const points: Point[] = [];
    for (let t = 0; t <= 1; t += 1 / 24) points.push(pointOn(curve, t));
    return points;
  });
  const place = labelPlacer(boxes, samples);
  // Labels, the busiest edges first so that they get the best places.
  const order = map.edges.map((_, i) => i).sort((a, b) =>
    map.edges[b]!.count - map.edges[a]!.count || a - b
  );
  const labels: { box: Box; leader?: Point }[] = new Array(map.edges.length);
  for (const i of order) {
    const edge = map.edges[i]!;
    const curve = curves[i]!;
    const size = labelSizes[i]!;
    let candidates: Point[];
    let anchor: Point;
    if (edge.from === edge.to) {
      const out = outward[index.get(edge.from)!]!;
      const apex = pointOn(curve, 0.5);
      anchor = apex;
      candidates = [
        add(apex, out, reach(size, out) + 2),
        ...[0.35, 0.65, 0.25, 0.75].map((t) => {
          const point = pointOn(curve, t);
          const away = unit(
            minus(point, centerOf(boxes[index.get(edge.from)!]!)),
          );
          return add(point, away, reach(size, away) + 2);
        }),
      ];
    } else {
      // The leader's end: the point nearest the middle not under a module.
      anchor = pointOn(curve, 0.5);
      for (const t of [0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8]) {
        const point = pointOn(curve, t);
        const hidden = boxes.some((box) =>
          overlaps(box, { x: point.x, y: point.y, width: 0, height: 0 }, 4)
        );
        if (!hidden) {
          anchor = point;
          break;
        }
      }
      candidates = alongCurve(curve, size);
    }
    const { box, moved } = place(i, size, candidates, anchor);
    labels[i] = moved ? { box, leader: anchor } : { box };
  }

  // Everything drawn, then moved so that it starts at the margin.
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const cover = (point: Point) => {
    minX = Math.min(minX, point.x);
    minY = Math.min(minY, point.y);
    maxX = Math.max(maxX, point.x);
    maxY = Math.max(maxY, point.y);
  };
  const coverBox = (box: Box) => {
    cover(box);
    cover({ x: box.x + box.width, y: box.y + box.height });
  };
  boxes.forEach(coverBox);
  labels.forEach((label) => coverBox(label.box));
  for (const curve of curves) {
    for (let t = 0; t <= 1; t += 1 / 32) cover(pointOn(curve, t));
  }
  arrows.forEach((arrow) => arrow.forEach(cover));
  const shift = { x: MARGIN - minX, y: MARGIN - minY };
  const moved = (point: Point): Point => add(point, shift);
  const movedBox = (box: Box): Box => ({
    ...box,
    x: box.x + shift.x,
    y: box.y + shift.y,
  });
  const round = (value: number) => Math.ceil(value + MARGIN);
  return {
    width: round(maxX + shift.x),
    height: round(maxY + shift.y),
    nodes: modules.map((module, i) => ({
      name: module.name,
      box: movedBox(boxes[i]!),
      lines: nodeText[i]!.lines,
      entries: nodeText[i]!.entries,
      unresolved: nodeText[i]!.unresolved,
    })),
    edges: map.edges.map((edge, i): EdgeLayout => {
      const label = labels[i]!;
      const laid = {
        edge,
        curve: curves[i]!.map(moved),
        arrow: arrows[i]!.map(moved),
        strokeWidth: strokeWidthOf(edge.count),
        label: movedBox(label.box),
        lines: labelText[i]!,
      };
      return label.leader === undefined
        ? laid
        : { ...laid, leader: moved(label.leader) };
    }),
  };
}
