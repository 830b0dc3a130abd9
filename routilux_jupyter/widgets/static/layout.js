// Layered (Sugiyama-style) layout of a flow graph, left to right.
//
// Pure functions, no DOM: nodes [{id, slots, events}], edges [{id, source, target, event, slot}]
// -> positions and edge routes. Steps: break cycles (DFS back edges are reversed), longest-path
// layering, dummy nodes on long edges, barycentric ordering (a few down/up sweeps), then y
// coordinates pulled toward neighbours while keeping order and spacing. Linear-ish in nodes+edges,
// which keeps a 200+ routine flow well under a frame budget.

export const NODE_WIDTH = 168;
export const HEADER_HEIGHT = 34;
export const PORT_GAP = 15;
const LAYER_GAP = 90;
const NODE_GAP = 18;
const DUMMY_SIZE = 6;
const SWEEPS = 6;
const MAX_DUMMIES = 20000;

export function nodeHeight(node) {
  const ports = Math.max((node.slots || []).length, (node.events || []).length, 1);
  return HEADER_HEIGHT + ports * PORT_GAP + 6;
}

// y offset (from node top) of the i-th port on either side.
export function portOffset(index) {
  return HEADER_HEIGHT + index * PORT_GAP + PORT_GAP / 2;
}

export function layoutGraph(nodes, edges) {
  const n = nodes.length;
  const index = new Map();
  nodes.forEach((node, i) => index.set(node.id, i));

  // Node-level adjacency (deduplicated, self loops dropped from layering).
  const pairs = new Map();
  for (const edge of edges) {
    const u = index.get(edge.source);
    const v = index.get(edge.target);
    if (u === undefined || v === undefined || u === v) continue;
    pairs.set(`${u},${v}`, [u, v]);
  }
  const out = Array.from({ length: n }, () => []);
  for (const [u, v] of pairs.values()) out[u].push(v);

  const reversed = breakCycles(n, out);
  const dagOut = Array.from({ length: n }, () => []);
  const dagIn = Array.from({ length: n }, () => []);
  for (const [u, v] of pairs.values()) {
    const [a, b] = reversed.has(`${u},${v}`) ? [v, u] : [u, v];
    if (a === b) continue;
    dagOut[a].push(b);
    dagIn[b].push(a);
  }
  const layer = longestPathLayers(n, dagOut, dagIn);

  // Virtual graph: real nodes first, then dummies that split edges spanning several layers.
  const vLayer = layer.slice();
  const vOut = dagOut.map((list) => []);
  const vIn = dagIn.map((list) => []);
  const chains = new Map(); // "a,b" (DAG orientation) -> [dummy ids]
  let dummies = 0;
  const canSplit = countSpan(dagOut, layer) <= MAX_DUMMIES;
  for (let a = 0; a < n; a++) {
    for (const b of dagOut[a]) {
      const span = layer[b] - layer[a];
      if (span > 1 && canSplit) {
        const chain = [];
        let prev = a;
        for (let k = 1; k < span; k++) {
          const id = n + dummies++;
          vLayer.push(layer[a] + k);
          vOut.push([]);
          vIn.push([]);
          vOut[prev].push(id);
          vIn[id].push(prev);
          chain.push(id);
          prev = id;
        }
        vOut[prev].push(b);
        vIn[b].push(prev);
        chains.set(`${a},${b}`, chain);
      } else {
        vOut[a].push(b);
        vIn[b].push(a);
      }
    }
  }
  const total = vLayer.length;
  const layerCount = total ? Math.max(...vLayer) + 1 : 0;
  const layers = Array.from({ length: layerCount }, () => []);
  for (const v of initialOrder(total, vOut, vIn, vLayer)) layers[vLayer[v]].push(v);

  const order = new Float64Array(total);
  const refreshOrder = () => layers.forEach((row) => row.forEach((v, i) => (order[v] = i)));
  refreshOrder();
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    const down = sweep % 2 === 0;
    for (let k = 1; k < layerCount; k++) {
      const l = down ? k : layerCount - 1 - k;
      const neighbours = down ? vIn : vOut;
      reorder(layers[l], neighbours, order);
      layers[l].forEach((v, i) => (order[v] = i));
    }
  }

  const height = (v) => (v < n ? nodeHeight(nodes[v]) : DUMMY_SIZE);
  const y = assignY(layers, vIn, vOut, height);

  const layerX = [];
  let x = 0;
  for (let l = 0; l < layerCount; l++) {
    layerX.push(x);
    x += NODE_WIDTH + LAYER_GAP;
  }

  const positions = new Map();
  let maxY = 0;
  for (let v = 0; v < n; v++) {
    const pos = { x: layerX[vLayer[v]], y: y[v], w: NODE_WIDTH, h: height(v), layer: vLayer[v] };
    positions.set(nodes[v].id, pos);
    maxY = Math.max(maxY, pos.y + pos.h);
  }
  for (let v = n; v < total; v++) maxY = Math.max(maxY, y[v] + DUMMY_SIZE);

  // Route: the list of dummy centres between the two ports, in the edge's own direction.
  const routes = new Map();
  for (const edge of edges) {
    const u = index.get(edge.source);
    const v = index.get(edge.target);
    if (u === undefined || v === undefined) continue;
    let via = [];
    const forward = chains.get(`${u},${v}`);
    const backward = chains.get(`${v},${u}`);
    if (forward && !reversed.has(`${u},${v}`)) via = forward;
    else if (backward && reversed.has(`${u},${v}`)) via = backward.slice().reverse();
    routes.set(edge.id, {
      points: via.map((d) => ({ x: layerX[vLayer[d]] + NODE_WIDTH / 2, y: y[d] + DUMMY_SIZE / 2 })),
      back: reversed.has(`${u},${v}`) || u === v,
    });
  }

  return {
    positions,
    routes,
    width: Math.max(0, x - LAYER_GAP),
    height: maxY,
    layers: layerCount,
    dummies,
  };
}

function countSpan(dagOut, layer) {
  let total = 0;
  dagOut.forEach((list, a) => list.forEach((b) => (total += Math.max(0, layer[b] - layer[a] - 1))));
  return total;
}

// Iterative DFS; edges to a node on the current stack are back edges and get reversed.
function breakCycles(n, out) {
  const state = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const reversed = new Set();
  for (let root = 0; root < n; root++) {
    if (state[root]) continue;
    const stack = [[root, 0]];
    state[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [u, i] = top;
      if (i < out[u].length) {
        top[1] = i + 1;
        const v = out[u][i];
        if (state[v] === 1) reversed.add(`${u},${v}`);
        else if (state[v] === 0) {
          state[v] = 1;
          stack.push([v, 0]);
        }
      } else {
        state[u] = 2;
        stack.pop();
      }
    }
  }
  return reversed;
}

// Longest path from the sources (Kahn's order), so every edge points to a later layer.
function longestPathLayers(n, dagOut, dagIn) {
  const layer = new Array(n).fill(0);
  const indeg = dagIn.map((list) => list.length);
  const queue = [];
  for (let v = 0; v < n; v++) if (!indeg[v]) queue.push(v);
  for (let head = 0; head < queue.length; head++) {
    const u = queue[head];
    for (const v of dagOut[u]) {
      layer[v] = Math.max(layer[v], layer[u] + 1);
      if (--indeg[v] === 0) queue.push(v);
    }
  }
  // Pull sources next to their first consumer so an isolated entry is not stranded at layer 0.
  for (let v = 0; v < n; v++) {
    if (dagIn[v].length === 0 && dagOut[v].length) {
      layer[v] = Math.max(0, Math.min(...dagOut[v].map((w) => layer[w])) - 1);
    }
  }
  return layer;
}

// Depth-first discovery order gives connected nodes neighbouring slots before any sweep.
function initialOrder(total, vOut, vIn, vLayer) {
  const seen = new Uint8Array(total);
  const result = [];
  const roots = [];
  for (let v = 0; v < total; v++) if (!vIn[v].length) roots.push(v);
  for (let v = 0; v < total; v++) roots.push(v);
  for (const root of roots) {
    if (seen[root]) continue;
    const stack = [root];
    while (stack.length) {
      const u = stack.pop();
      if (seen[u]) continue;
      seen[u] = 1;
      result.push(u);
      for (let i = vOut[u].length - 1; i >= 0; i--) if (!seen[vOut[u][i]]) stack.push(vOut[u][i]);
    }
  }
  return result;
}

// Barycentric reordering of one layer against the fixed neighbouring layer.
function reorder(row, neighbours, order) {
  const keyed = row.map((v, i) => {
    const list = neighbours[v];
    if (!list.length) return [v, i, i];
    let sum = 0;
    for (const w of list) sum += order[w];
    return [v, sum / list.length, i];
  });
  keyed.sort((a, b) => a[1] - b[1] || a[2] - b[2]);
  for (let i = 0; i < row.length; i++) row[i] = keyed[i][0];
}

// Stack each layer, then a few passes that move nodes toward their neighbours' centres while
// keeping their order and a minimum gap.
function assignY(layers, vIn, vOut, height) {
  const total = vIn.length;
  const y = new Float64Array(total);
  for (const row of layers) {
    let cursor = 0;
    for (const v of row) {
      y[v] = cursor;
      cursor += height(v) + NODE_GAP;
    }
  }
  const centre = (v) => y[v] + height(v) / 2;
  for (let pass = 0; pass < 4; pass++) {
    const down = pass % 2 === 0;
    for (let k = 0; k < layers.length; k++) {
      const row = layers[down ? k : layers.length - 1 - k];
      const neighbours = down ? vIn : vOut;
      const want = row.map((v) => {
        const list = neighbours[v].length ? neighbours[v] : down ? vOut[v] : vIn[v];
        if (!list.length) return y[v];
        let sum = 0;
        for (const w of list) sum += centre(w);
        return sum / list.length - height(v) / 2;
      });
      place(row, want, y, height);
    }
  }
  // Shift everything so the top edge is at 0.
  let min = Infinity;
  for (let v = 0; v < total; v++) min = Math.min(min, y[v]);
  if (Number.isFinite(min)) for (let v = 0; v < total; v++) y[v] -= min;
  return y;
}

// Place a row as close as possible to the wanted positions (least squares) while keeping its
// order and gaps: pool adjacent blocks that would overlap (isotonic regression). Unlike pushing
// nodes down one by one, this never drifts a row away from its neighbours, so rows stay compact.
function place(row, want, y, height) {
  if (!row.length) return;
  // offset[i]: where node i sits inside its block if the block starts at 0.
  const blocks = []; // {start, end, sum, count, top} over row indices [start, end)
  const offset = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) {
    let block = { start: i, end: i + 1, sum: want[i], count: 1, top: want[i] };
    offset[i] = 0;
    blocks.push(block);
    // Merge with the previous block while they would overlap.
    while (blocks.length > 1) {
      const prev = blocks[blocks.length - 2];
      const prevBottom = prev.top + offset[prev.end - 1] + height(row[prev.end - 1]) + NODE_GAP;
      if (block.top >= prevBottom) break;
      const shift = offset[prev.end - 1] + height(row[prev.end - 1]) + NODE_GAP;
      for (let k = block.start; k < block.end; k++) offset[k] += shift;
      prev.sum += block.sum - shift * block.count;
      prev.count += block.count;
      prev.end = block.end;
      prev.top = prev.sum / prev.count;
      blocks.pop();
      block = prev;
    }
  }
  for (const block of blocks) {
    for (let k = block.start; k < block.end; k++) y[row[k]] = block.top + offset[k];
  }
}
