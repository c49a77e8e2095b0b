// The parsed form of a pattern. Captures are not kept: every matcher in this package answers yes/no.

export enum NodeKind {
  /** Matches the empty string. */
  Empty,
  /** One code point (`cp`); `fold` means either ASCII case of the letter `cp` (stored lower case). */
  Literal,
  /** A set of units (`ranges`, normalized). */
  Class,
  /** `.`: any unit; `dotNewline` says whether `\n` is included (flag `s`). */
  Any,
  /** An empty-width assertion (`assertion` is one of the Assert* bits in program.ts). */
  Assert,
  Concat,
  Alternate,
  /** `sub` repeated `min`..`max` times (`max` = -1: unbounded). */
  Repeat,
}

export class Node {
  kind: NodeKind;
  cp: i32 = 0;
  fold: bool = false;
  ranges: Array<i32> | null = null;
  dotNewline: bool = false;
  assertion: i32 = 0;
  children: Array<Node> | null = null;
  sub: Node | null = null;
  min: i32 = 0;
  max: i32 = 0;
  greedy: bool = true;
  /** Set by the compiler so repeated copies of one class share one class-table entry. */
  classIndex: i32 = -1;

  constructor(kind: NodeKind) {
    this.kind = kind;
  }

  static empty(): Node {
    return new Node(NodeKind.Empty);
  }

  static literal(cp: i32, fold: bool): Node {
    const n = new Node(NodeKind.Literal);
    n.cp = cp;
    n.fold = fold;
    return n;
  }

  static charClass(ranges: Array<i32>): Node {
    const n = new Node(NodeKind.Class);
    n.ranges = ranges;
    return n;
  }

  static any(dotNewline: bool): Node {
    const n = new Node(NodeKind.Any);
    n.dotNewline = dotNewline;
    return n;
  }

  static assert(assertion: i32): Node {
    const n = new Node(NodeKind.Assert);
    n.assertion = assertion;
    return n;
  }

  static list(kind: NodeKind, children: Array<Node>): Node {
    if (children.length == 0) return Node.empty();
    if (children.length == 1) return children[0];
    const n = new Node(kind);
    n.children = children;
    return n;
  }

  static repeat(sub: Node, min: i32, max: i32, greedy: bool): Node {
    const n = new Node(NodeKind.Repeat);
    n.sub = sub;
    n.min = min;
    n.max = max;
    n.greedy = greedy;
    return n;
  }
}
