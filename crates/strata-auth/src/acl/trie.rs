//! A radix tree keyed by byte strings, for prefixed patterns: finding every
//! stored key that is a prefix of a name walks the name once, one node per
//! branching point, whatever the number of keys.

/// Values keyed by strings, with lookup of all keys that prefix a name.
#[derive(Debug)]
pub(crate) struct PrefixTrie<T> {
    root: Node<T>,
    len: usize,
}

#[derive(Debug)]
struct Node<T> {
    /// The bytes on the edge into this node (empty only at the root).
    label: Box<[u8]>,
    value: Option<T>,
    /// Sorted by the first byte of their label, which is unique.
    children: Vec<Node<T>>,
}

impl<T> Default for PrefixTrie<T> {
    fn default() -> Self {
        PrefixTrie {
            root: Node::new(Box::default()),
            len: 0,
        }
    }
}

impl<T> Node<T> {
    fn new(label: Box<[u8]>) -> Self {
        Node {
            label,
            value: None,
            children: Vec::new(),
        }
    }

    fn child(&self, first: u8) -> Result<usize, usize> {
        self.children.binary_search_by_key(&first, |c| c.label[0])
    }
}

fn common_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl<T> PrefixTrie<T> {
    /// Number of keys with a value.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value at `key`, inserting `T::default()` if there is none.
    pub(crate) fn get_or_default(&mut self, key: &str) -> &mut T
    where
        T: Default,
    {
        let slot = insert_at(&mut self.root, key.as_bytes());
        if slot.is_none() {
            self.len += 1;
        }
        slot.get_or_insert_with(T::default)
    }

    /// The value at `key`.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        let mut node = &mut self.root;
        let mut rest = key.as_bytes();
        while let Some(&first) = rest.first() {
            let i = node.child(first).ok()?;
            let child = &mut node.children[i];
            rest = rest.strip_prefix(&*child.label)?;
            node = child;
        }
        node.value.as_mut()
    }

    /// Removes the value at `key`, pruning nodes left without purpose.
    pub(crate) fn remove(&mut self, key: &str) -> Option<T> {
        let removed = remove_at(&mut self.root, key.as_bytes());
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Calls `f` with the value of every key that is a prefix of `name`
    /// (`name` itself included), shortest first, until `f` returns `true`.
    pub(crate) fn for_each_prefix_of(&self, name: &str, mut f: impl FnMut(&T) -> bool) {
        let mut node = &self.root;
        let mut rest = name.as_bytes();
        loop {
            if let Some(value) = &node.value {
                if f(value) {
                    return;
                }
            }
            let Some(&first) = rest.first() else {
                return;
            };
            let Ok(i) = node.child(first) else {
                return;
            };
            let child = &node.children[i];
            let Some(after) = rest.strip_prefix(&*child.label) else {
                return;
            };
            rest = after;
            node = child;
        }
    }

    /// Calls `f` with every key and value, in byte order of the keys.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&str, &T)) {
        let mut key = Vec::new();
        visit(&self.root, &mut key, &mut f);
    }
}

fn insert_at<'a, T>(node: &'a mut Node<T>, rest: &[u8]) -> &'a mut Option<T> {
    let Some(&first) = rest.first() else {
        return &mut node.value;
    };
    match node.child(first) {
        Err(i) => {
            node.children.insert(i, Node::new(rest.into()));
            &mut node.children[i].value
        }
        Ok(i) => {
            let child = &mut node.children[i];
            let common = common_len(&child.label, rest);
            if common < child.label.len() {
                // Split the edge: a new node for the common part, the old
                // child below it with the rest of its label.
                let head = Node::new(child.label[..common].into());
                let mut tail = std::mem::replace(child, head);
                tail.label = tail.label[common..].into();
                child.children.push(tail);
            }
            insert_at(child, &rest[common..])
        }
    }
}

fn remove_at<T>(node: &mut Node<T>, rest: &[u8]) -> Option<T> {
    let Some(&first) = rest.first() else {
        return node.value.take();
    };
    let i = node.child(first).ok()?;
    let child = &mut node.children[i];
    let after = rest.strip_prefix(&*child.label)?;
    let removed = remove_at(child, after)?;
    if child.value.is_none() {
        match child.children.len() {
            0 => {
                node.children.remove(i);
            }
            1 => {
                // Merge the only grandchild into the child's edge.
                let mut grandchild = child.children.pop().expect("one child");
                let mut label = child.label.to_vec();
                label.extend_from_slice(&grandchild.label);
                grandchild.label = label.into();
                *child = grandchild;
            }
            _ => {}
        }
    }
    Some(removed)
}

fn visit<T>(node: &Node<T>, key: &mut Vec<u8>, f: &mut impl FnMut(&str, &T)) {
    key.extend_from_slice(&node.label);
    if let Some(value) = &node.value {
        // Keys are inserted as `str`, so a node holding a value ends on a
        // character boundary.
        if let Ok(k) = std::str::from_utf8(key) {
            f(k, value);
        }
    }
    for child in &node.children {
        visit(child, key, f);
    }
    key.truncate(key.len() - node.label.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes(t: &PrefixTrie<String>, name: &str) -> Vec<String> {
        let mut found = Vec::new();
        t.for_each_prefix_of(name, |v| {
            found.push(v.clone());
            false
        });
        found
    }

    fn keys(t: &PrefixTrie<String>) -> Vec<String> {
        let mut all = Vec::new();
        t.for_each(|k, v| {
            assert_eq!(k, v);
            all.push(k.to_owned());
        });
        all
    }

    #[test]
    fn insert_lookup_remove() {
        let mut t = PrefixTrie::<String>::default();
        for k in [
            "team1.",
            "team",
            "team1.svc",
            "te",
            "tëam",
            "tëa",
            "x",
            "team2",
        ] {
            *t.get_or_default(k) = k.to_owned();
        }
        assert_eq!(t.len(), 8);
        assert_eq!(
            prefixes(&t, "team1.svc.events"),
            ["te", "team", "team1.", "team1.svc"]
        );
        assert_eq!(prefixes(&t, "tëam!"), ["tëa", "tëam"]);
        assert_eq!(prefixes(&t, "t"), Vec::<String>::new());
        assert_eq!(prefixes(&t, "team2"), ["te", "team", "team2"]);
        assert_eq!(
            keys(&t),
            [
                "te",
                "team",
                "team1.",
                "team1.svc",
                "team2",
                "tëa",
                "tëam",
                "x"
            ]
        );

        assert_eq!(t.remove("team").as_deref(), Some("team"));
        assert_eq!(t.remove("team"), None);
        assert_eq!(t.remove("tea"), None);
        assert_eq!(
            prefixes(&t, "team1.svc.events"),
            ["te", "team1.", "team1.svc"]
        );
        assert_eq!(t.remove("te").as_deref(), Some("te"));
        assert_eq!(t.remove("team1.").as_deref(), Some("team1."));
        assert_eq!(prefixes(&t, "team1.svc.events"), ["team1.svc"]);
        assert!(t.get_mut("team1.svc").is_some());
        assert!(t.get_mut("team1.sv").is_none());
        for k in ["team1.svc", "team2", "tëa", "tëam", "x"] {
            assert!(t.remove(k).is_some());
        }
        assert_eq!(t.len(), 0);
        assert!(t.root.children.is_empty());
    }
}
