//! Certificate facts on structured mutations of valid certificates: a seed certificate is read
//! as a tree of DER TLVs (also inside OCTET and BIT STRINGs that hold DER, so extension values
//! are reached), the input is a list of edits to that tree, and the tree is written back with
//! correct lengths unless an edit says otherwise. Random bytes rarely get past the outer
//! SEQUENCE; these keep the structure and change the parts the facts read.
//!
//! Input: byte 0 picks the seed certificate; then edits of `op node_hi node_lo arg [bytes…]`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/cert_facts.rs"]
mod cert_facts;

const SEEDS: [&[u8]; 5] = [
    include_bytes!("../corpus/certs/seed-p384-leaf.der"),
    include_bytes!("../corpus/certs/seed-ed25519-root.der"),
    include_bytes!("../corpus/certs/seed-weak-sha1-leaf.der"),
    include_bytes!("../corpus/certs/seed-weak-sha1-ca.der"),
    include_bytes!("../corpus/certs/seed-weak-rsa1024.der"),
];

/// Values worth putting in a certificate field: edge dates, odd names, OIDs the facts know.
const VALUES: &[&[u8]] = &[
    b"",
    b"\0",
    b"*.example.com",
    b"*.com",
    b"*",
    b"a.*.example.com",
    b"mail.test.",
    b"\xff\xfe",
    b"\x7f\x00\x00\x01",
    b"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01",
    b"\x7f\x00\x00",
    b"000101000000Z",
    b"991231235959Z",
    b"19700101000000Z",
    b"99991231235959Z",
    b"00000101000000Z",
    b"20261301000000Z",
    b"20260230246060Z",
    b"202611221200Z",
    b"20261122120000.123Z",
    b"20261122120000+0900",
    b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01",
    b"\x2a\x86\x48\xce\x3d\x02\x01",
    b"\x2a\x86\x48\xce\x3d\x03\x01\x07",
    b"\x2b\x81\x04\x00\x22",
    b"\x2b\x65\x70",
    b"\x2a\x86\x48\xce\x38\x04\x01",
    b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05",
    b"\x2b\x06\x01\x05\x05\x07\x30\x02",
    b"\x55\x1d\x11",
    b"\x55\x1d\x13",
    b"\x55\x1d\x23",
    b"\x55\x1d\x0e",
    b"\x2b\x06\x01\x05\x05\x07\x01\x01",
    b"\x01\xff",
    b"\x00",
    b"\x80",
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
];

#[derive(Clone, Debug)]
enum Node {
    Prim {
        tag: u8,
        content: Vec<u8>,
        skew: i16,
    },
    /// A constructed TLV, or a primitive string whose content (after `prefix`) is DER.
    Cons {
        tag: u8,
        prefix: Vec<u8>,
        children: Vec<Node>,
        skew: i16,
    },
}

/// One TLV: tag, content, rest. Single-byte tags, definite lengths only (DER).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&l, b) = b.split_first()?;
    let (len, b) = if l < 0x80 {
        (usize::from(l), b)
    } else {
        let n = usize::from(l & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n].iter().fold(0usize, |a, &x| a << 8 | usize::from(x));
        (len, &b[n..])
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

fn parse_all(mut b: &[u8], depth: u8) -> Option<Vec<Node>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (tag, content, rest) = tlv(b)?;
        out.push(parse_one(tag, content, depth)?);
        b = rest;
    }
    Some(out)
}

fn parse_one(tag: u8, content: &[u8], depth: u8) -> Option<Node> {
    if depth > 24 {
        return None;
    }
    if tag & 0x20 != 0 {
        let children = parse_all(content, depth + 1)?;
        return Some(Node::Cons {
            tag,
            prefix: Vec::new(),
            children,
            skew: 0,
        });
    }
    // OCTET STRING and BIT STRING (after its unused-bits byte) that hold DER.
    let prefix_len = match tag {
        0x04 => Some(0),
        0x03 => Some(1),
        _ => None,
    };
    if let Some(p) = prefix_len {
        if content.len() > p + 1 && matches!(content[p], 0x30 | 0x31 | 0x04 | 0x03 | 0x02) {
            if let Some(children) = parse_all(&content[p..], depth + 1) {
                return Some(Node::Cons {
                    tag,
                    prefix: content[..p].to_vec(),
                    children,
                    skew: 0,
                });
            }
        }
    }
    Some(Node::Prim {
        tag,
        content: content.to_vec(),
        skew: 0,
    })
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn encode(node: &Node, out: &mut Vec<u8>) {
    let (tag, body, skew) = match node {
        Node::Prim { tag, content, skew } => (*tag, content.clone(), *skew),
        Node::Cons {
            tag,
            prefix,
            children,
            skew,
        } => {
            let mut body = prefix.clone();
            for c in children {
                encode(c, &mut body);
            }
            (*tag, body, *skew)
        }
    };
    out.push(tag);
    match skew {
        // A length that claims far more than there is.
        i16::MIN => out.extend_from_slice(&[0x84, 0xff, 0xff, 0xff, 0xf0]),
        _ => put_len(out, (body.len() as i64 + i64::from(skew)).max(0) as usize),
    }
    out.extend_from_slice(&body);
}

/// Calls `f` with the list that holds the `*n`-th node (pre-order) and its position there.
fn at(list: &mut Vec<Node>, n: &mut usize, f: &mut dyn FnMut(&mut Vec<Node>, usize)) -> bool {
    for i in 0..list.len() {
        if *n == 0 {
            f(list, i);
            return true;
        }
        *n -= 1;
        if let Node::Cons { children, .. } = &mut list[i] {
            if at(children, n, f) {
                return true;
            }
        }
    }
    false
}

fn count(list: &[Node]) -> usize {
    list.iter()
        .map(|n| match n {
            Node::Prim { .. } => 1,
            Node::Cons { children, .. } => 1 + count(children),
        })
        .sum()
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (a, rest) = self.0.split_at(n);
        self.0 = rest;
        a.to_vec()
    }
}

fn edit(tree: &mut Vec<Node>, input: &mut Input<'_>) -> Option<()> {
    let op = input.byte()?;
    let node = usize::from(u16::from_be_bytes([input.byte()?, input.byte()?]));
    let arg = input.byte()?;
    let mut n = node % count(tree).max(1);
    let payload = match op % 12 {
        0 | 7 => input.bytes(usize::from(arg % 64)),
        _ => Vec::new(),
    };
    at(tree, &mut n, &mut |list, i| match op % 12 {
        // Replace a primitive's content (or turn a constructed one into a primitive).
        0 => {
            let tag = match &list[i] {
                Node::Prim { tag, .. } | Node::Cons { tag, .. } => *tag,
            };
            list[i] = Node::Prim {
                tag: tag & !0x20,
                content: payload.clone(),
                skew: 0,
            };
        }
        1 => match &mut list[i] {
            Node::Prim { tag, .. } | Node::Cons { tag, .. } => *tag = arg,
        },
        2 => {
            list.remove(i);
        }
        3 => {
            let copy = list[i].clone();
            list.insert(i, copy);
        }
        4 => match &mut list[i] {
            Node::Prim { content, .. } => content.truncate(usize::from(arg) % (content.len() + 1)),
            Node::Cons { children, .. } => {
                children.truncate(usize::from(arg) % (children.len() + 1))
            }
        },
        5 => {
            if let Node::Prim { content, .. } = &mut list[i] {
                if !content.is_empty() {
                    let at = usize::from(arg) % content.len();
                    content[at] ^= 1 << (arg % 8);
                }
            }
        }
        6 => match &mut list[i] {
            Node::Prim { skew, .. } | Node::Cons { skew, .. } => {
                *skew = if arg == 0 {
                    i16::MIN
                } else {
                    i16::from(arg as i8)
                }
            }
        },
        // A new primitive child (or sibling).
        7 => {
            let new = Node::Prim {
                tag: arg,
                content: payload.clone(),
                skew: 0,
            };
            match &mut list[i] {
                Node::Cons { children, .. } => children.push(new),
                Node::Prim { .. } => list.insert(i + 1, new),
            }
        }
        // Wrap in a SEQUENCE (or another constructed tag).
        8 => {
            let inner = list.remove(i);
            list.insert(
                i,
                Node::Cons {
                    tag: arg | 0x20,
                    prefix: Vec::new(),
                    children: vec![inner],
                    skew: 0,
                },
            );
        }
        // A value from the table.
        9 => {
            if let Node::Prim { content, .. } = &mut list[i] {
                *content = VALUES[usize::from(arg) % VALUES.len()].to_vec();
            }
        }
        // Swap with the next sibling.
        10 => {
            if i + 1 < list.len() {
                list.swap(i, i + 1);
            }
        }
        // Grow a primitive's content (long names, long integers).
        _ => {
            if let Node::Prim { content, .. } = &mut list[i] {
                let fill = content.last().copied().unwrap_or(b'a');
                content.resize(content.len() + usize::from(arg) * 8, fill);
            }
        }
    });
    Some(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let seed = SEEDS[usize::from(pick) % SEEDS.len()];
    let mut tree = parse_all(seed, 0).expect("a seed is DER");
    let mut input = Input(rest);
    for _ in 0..32 {
        if edit(&mut tree, &mut input).is_none() {
            break;
        }
    }
    let mut der = Vec::new();
    for node in &tree {
        encode(node, &mut der);
    }
    if rest.is_empty() {
        assert_eq!(der, seed, "the tree writes a seed back as it was");
    }
    cert_facts::exercise(&der);
});
