//! The per-HTTP-method segment trie that [`crate::RouteTable::find`] searches.
//!
//! Each edge is one segment of a template's flat shape (a literal, `*` or `**`),
//! so templates with the same shape end at the same node: that is how the table
//! detects conflicts, and why matching never has to compare variable names.
//! Routes are stored at their end node, keyed by verb.
//!
//! Search is a depth-first walk that tries, at every node, the literal child for
//! the current segment (a short scan, or one hash lookup), then the `*` child,
//! then the `**` child consuming as few segments as possible first, backtracking
//! on failure. The recursion depth is bounded by the depth of the trie (the
//! longest template), not by the request path; the path is walked in place,
//! without allocating.
//!
//! Most nodes have one literal child or a few: those are kept in a vector and
//! scanned (comparing lengths first rejects most), and only nodes with many
//! children get a hash map. With a map everywhere, the smallest tables (and
//! their spare buckets) were a quarter of a 5,000-route table's memory.
//! [`MethodTrie::shrink`] drops all spare capacity once the table is built.

use std::collections::HashMap;

use crate::template::{Segment, Template, strip_verb};

/// Above this many literal children, a node hashes them instead of scanning.
const SCAN_MAX: usize = 16;

#[derive(Debug)]
enum Literals {
    Scan(Vec<(Box<str>, Node)>),
    Hash(HashMap<Box<str>, Node>),
}

impl Default for Literals {
    fn default() -> Self {
        Literals::Scan(Vec::new())
    }
}

#[derive(Debug, Default)]
struct Node {
    literals: Literals,
    wildcard: Option<Box<Node>>,
    deep: Option<Box<Node>>,
    /// Routes whose template ends here, by verb (`None`: no verb). Almost always
    /// zero or one entry, so a scan beats a map.
    ends: Vec<(Option<Box<str>>, usize)>,
}

/// All routes of one HTTP method.
#[derive(Debug, Default)]
pub(crate) struct MethodTrie {
    root: Node,
    /// Every verb used by a route of this method, longest first, so that a verb
    /// that is a suffix of another (`b` vs `a:b`) does not shadow it.
    verbs: Vec<Box<str>>,
}

impl MethodTrie {
    /// Adds `route` (an index into the table) for `template`. If a route with the
    /// same shape and verb is already present, nothing changes and its index is
    /// returned: the first route for a shape wins.
    pub(crate) fn insert(&mut self, template: &Template, route: usize) -> Result<(), usize> {
        let mut node = &mut self.root;
        for segment in template.segments() {
            node = match segment {
                Segment::Literal(lit) => node.literal_mut(lit),
                Segment::Wildcard => node.wildcard.get_or_insert_default(),
                Segment::DeepWildcard => node.deep.get_or_insert_default(),
            };
        }
        let verb = template.verb();
        if let Some(&(_, existing)) = node.ends.iter().find(|(v, _)| v.as_deref() == verb) {
            return Err(existing);
        }
        node.ends.push((verb.map(Box::from), route));
        if let Some(verb) = verb {
            if !self.verbs.iter().any(|v| &**v == verb) {
                self.verbs.push(verb.into());
                self.verbs
                    .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
            }
        }
        Ok(())
    }

    /// Drops spare capacity everywhere, once no more routes will be added.
    pub(crate) fn shrink(&mut self) {
        self.root.shrink();
        self.verbs.shrink_to_fit();
    }

    /// Finds the best route for `rest` (the raw path after its leading `/`).
    /// Returns the route index and the path with the route's verb removed, which
    /// is what [`Template::capture`] expects.
    ///
    /// A match that uses a verb is preferred over one that does not: the verb is
    /// an explicit part of the template, while a verb-less template only matches
    /// the colon by accident (as part of a literal or a `*`).
    pub(crate) fn find<'p>(&self, rest: &'p str) -> Option<(usize, &'p str)> {
        for verb in &self.verbs {
            if let Some(stripped) = strip_verb(rest, verb) {
                if let Some(route) = self.root.find(Some(stripped), Some(verb)) {
                    return Some((route, stripped));
                }
            }
        }
        self.root.find(Some(rest), None).map(|route| (route, rest))
    }
}

impl Node {
    fn literal(&self, segment: &str) -> Option<&Node> {
        match &self.literals {
            Literals::Scan(children) => children
                .iter()
                .find(|(lit, _)| **lit == *segment)
                .map(|(_, child)| child),
            Literals::Hash(children) => children.get(segment),
        }
    }

    /// The child for literal `segment`, created if missing.
    fn literal_mut(&mut self, segment: &str) -> &mut Node {
        if let Literals::Scan(children) = &mut self.literals {
            if children.len() == SCAN_MAX && !children.iter().any(|(lit, _)| **lit == *segment) {
                self.literals = Literals::Hash(std::mem::take(children).into_iter().collect());
            }
        }
        match &mut self.literals {
            Literals::Scan(children) => {
                let i = match children.iter().position(|(lit, _)| **lit == *segment) {
                    Some(i) => i,
                    None => {
                        children.push((segment.into(), Node::default()));
                        children.len() - 1
                    }
                };
                &mut children[i].1
            }
            Literals::Hash(children) => children.entry(segment.into()).or_default(),
        }
    }

    fn shrink(&mut self) {
        self.ends.shrink_to_fit();
        match &mut self.literals {
            Literals::Scan(children) => {
                children.shrink_to_fit();
                children.iter_mut().for_each(|(_, child)| child.shrink());
            }
            Literals::Hash(children) => {
                children.shrink_to_fit();
                children.values_mut().for_each(Node::shrink);
            }
        }
        for child in [&mut self.wildcard, &mut self.deep].into_iter().flatten() {
            child.shrink();
        }
    }

    fn end(&self, verb: Option<&str>) -> Option<usize> {
        self.ends
            .iter()
            .find(|(v, _)| v.as_deref() == verb)
            .map(|&(_, route)| route)
    }

    /// `rest` is the unconsumed path: `None` once every segment is consumed,
    /// otherwise one or more `/`-separated segments (`Some("")` is one empty
    /// segment, as left by a trailing slash).
    fn find(&self, rest: Option<&str>, verb: Option<&str>) -> Option<usize> {
        let Some(rest) = rest else {
            // Only a `**` (consuming nothing) can follow the end of the path.
            return self
                .end(verb)
                .or_else(|| self.deep.as_ref()?.find(None, verb));
        };
        let (segment, tail) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        if let Some(child) = self.literal(segment) {
            if let Some(route) = child.find(tail, verb) {
                return Some(route);
            }
        }
        if let Some(child) = &self.wildcard {
            if let Some(route) = child.find(tail, verb) {
                return Some(route);
            }
        }
        if let Some(child) = &self.deep {
            // Zero segments first, then one more at a time.
            let mut remaining = Some(rest);
            loop {
                if let Some(route) = child.find(remaining, verb) {
                    return Some(route);
                }
                let Some(consumed) = remaining else { break };
                remaining = consumed.find('/').map(|i| &consumed[i + 1..]);
            }
        }
        None
    }
}
