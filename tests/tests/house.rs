//! The shape of the house (ARCHITECTURE.md, "Map"): the rules a review would check by hand,
//! checked over the sources on every run. Nothing here needs root or a kernel.
//!
//! - Dependencies run one way: no module of feth-control or feth-bench imports one that
//!   (directly or through others) imports it, and no room (a top-level module) does either.
//! - No function of either crate is longer than 60 lines.
//! - Every `unsafe` block or impl, in every crate, has a `SAFETY:` comment just above it, and
//!   no `SAFETY:` comment sits anywhere else.
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use syn::visit::Visit;

/// The crates whose modules are checked for cycles and long functions.
const CHECKED: [&str; 2] = ["feth-control", "feth-bench"];
/// The longest function allowed, in lines from `fn` to its closing brace.
const MAX_FN_LINES: usize = 60;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if !path.ends_with("target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a::b` for `src/a/b.rs` or `src/a/b/mod.rs`; "" for `lib.rs`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src").with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts.join("::")
}

/// Every path into the crate a file names in code (uses, types, calls: `crate::`, `super::`,
/// `self::`), outside `#[cfg(test)]`, made absolute from `module`.
#[derive(Default)]
struct CratePaths {
    module: Vec<String>,
    /// The names of this module's own submodules: `child::x` is `self::child::x`.
    children: BTreeSet<String>,
    paths: Vec<Vec<String>>,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.meta.require_list().is_ok_and(|l| l.tokens.to_string().contains("test")))
}

impl CratePaths {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.push_use(prefix, Some(n.ident.to_string())),
            syn::UseTree::Rename(r) => self.push_use(prefix, Some(r.ident.to_string())),
            syn::UseTree::Glob(_) => self.push_use(prefix, None),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix, t)),
        }
    }

    fn push_use(&mut self, prefix: &[String], last: Option<String>) {
        let mut path = prefix.to_vec();
        path.extend(last.filter(|l| l != "self"));
        if let Some(absolute) = self.absolute(&path) {
            self.paths.push(absolute);
        }
    }

    /// `crate::a::b`, `super::b` or `self::b` as a path from the crate root; `None` for a
    /// path that does not start in the crate.
    fn absolute(&self, path: &[String]) -> Option<Vec<String>> {
        match path.first().map(String::as_str) {
            Some("crate") => Some(path[1..].to_vec()),
            Some("self") => Some(self.module.iter().chain(&path[1..]).cloned().collect()),
            Some("super") => {
                let ups = path.iter().take_while(|p| *p == "super").count();
                let base = &self.module[..self.module.len().checked_sub(ups)?];
                Some(base.iter().chain(&path[ups..]).cloned().collect())
            }
            Some(first) if self.children.contains(first) => Some(self.module.iter().chain(path).cloned().collect()),
            _ => None,
        }
    }
}

impl<'ast> Visit<'ast> for CratePaths {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_cfg_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        // A path of one segment is a local name (`self` the receiver), not a module.
        if segments.len() > 1
            && let Some(absolute) = self.absolute(&segments)
        {
            self.paths.push(absolute);
        }
        syn::visit::visit_path(self, p);
    }
}

/// The longest module that is a prefix of `path`.
fn resolve(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| modules.contains(m))
}

/// Module -> the modules it names, for one crate.
fn imports(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join(krate).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let me = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read source");
        let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("parse {}: {e}", file.display()));
        let module = me.split("::").filter(|m| !m.is_empty()).map(str::to_owned).collect();
        let prefix = if me.is_empty() { String::new() } else { format!("{me}::") };
        let children = modules
            .iter()
            .filter_map(|m| m.strip_prefix(&prefix).filter(|rest| !rest.is_empty() && !rest.contains("::")))
            .map(str::to_owned)
            .collect();
        let mut found = CratePaths { module, children, paths: Vec::new() };
        found.visit_file(&parsed);
        let named: BTreeSet<String> =
            found.paths.iter().filter_map(|p| resolve(p, &modules)).filter(|m| *m != me && !m.is_empty()).collect();
        graph.insert(me, named);
    }
    graph
}

/// The strongly connected components with more than one member (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    self.low.insert(v, self.low[v].min(self.low[w]));
                } else if self.stack.contains(&w) {
                    self.low.insert(v, self.low[v].min(self.index[w]));
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|s| *s == v).expect("on the stack");
                let scc: Vec<String> = self.stack.drain(at..).map(str::to_owned).collect();
                if scc.len() > 1 {
                    self.found.push(scc);
                }
            }
        }
    }
    let mut walk = Walk { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

/// The same graph between rooms (a module's first segment), without a room's own edges.
fn rooms(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let room = |m: &str| m.split("::").next().unwrap_or(m).to_owned();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in graph {
        let entry = out.entry(room(from)).or_default();
        entry.extend(to.iter().map(|t| room(t)).filter(|t| *t != room(from)));
    }
    out
}

#[test]
fn dependencies_run_one_way() {
    for krate in CHECKED {
        let graph = imports(krate);
        assert!(graph.len() > 5, "{krate}: found too few modules to mean anything");
        let modules = cycles(&graph);
        assert!(modules.is_empty(), "{krate}: modules that import each other: {modules:?}");
        let rooms = cycles(&rooms(&graph));
        assert!(rooms.is_empty(), "{krate}: rooms that import each other: {rooms:?}");
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let edges = |list: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in list {
            g.entry((*a).into()).or_default().insert((*b).into());
            g.entry((*b).into()).or_default();
        }
        g
    };
    let found = cycles(&edges(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]));
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].iter().collect::<BTreeSet<_>>(),
        ["a", "b", "c"].iter().map(|s| s.to_string()).collect::<BTreeSet<_>>().iter().collect()
    );
    assert!(cycles(&edges(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
    let r = rooms(&edges(&[("ops::peer", "repair"), ("repair::plan", "ops")]));
    assert_eq!(cycles(&r).len(), 1);
}

/// Every function and method with a body, with its first and last line.
#[derive(Default)]
struct Functions {
    found: Vec<(String, usize, usize)>,
}

impl Functions {
    fn push(&mut self, sig: &syn::Signature, block: &syn::Block) {
        use syn::spanned::Spanned as _;
        let start = sig.fn_token.span().start().line;
        let end = block.brace_token.span.close().end().line;
        self.found.push((sig.ident.to_string(), start, end));
    }
}

impl<'ast> Visit<'ast> for Functions {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.push(&f.sig, &f.block);
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.push(&f.sig, &f.block);
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.push(&f.sig, block);
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}

#[test]
fn no_function_is_over_60_lines() {
    let mut long = Vec::new();
    for krate in CHECKED {
        let mut files = Vec::new();
        rust_files(&root().join(krate).join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            let mut functions = Functions::default();
            functions.visit_file(&syn::parse_file(&text).expect("parse"));
            assert!(!functions.found.is_empty() || text.len() < 2000, "{}: no functions found", file.display());
            for (name, start, end) in functions.found {
                let lines = end - start + 1;
                if lines > MAX_FN_LINES {
                    long.push(format!("{}:{start} {name}: {lines} lines", file.display()));
                }
            }
        }
    }
    assert!(long.is_empty(), "functions over {MAX_FN_LINES} lines:\n{}", long.join("\n"));
}

/// Lines of code around each `unsafe` that must carry, or must not carry, a SAFETY comment.
fn safety_problems(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let is_comment = |l: &str| l.trim_start().starts_with("//");
    let has_unsafe = |l: &str| {
        let code = l.split("//").next().unwrap_or("");
        code.contains("unsafe {") || code.contains("unsafe impl") || code.trim_end().ends_with("unsafe")
    };
    let mut problems = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if has_unsafe(line) && !is_comment(line) {
            // The comment block above the statement (which may start up to two lines up).
            let commented = (i.saturating_sub(3)..i).rev().any(|j| {
                is_comment(lines[j]) && {
                    let mut k = j;
                    while k > 0 && is_comment(lines[k - 1]) {
                        k -= 1;
                    }
                    lines[k..=j].iter().any(|l| l.contains("SAFETY:"))
                }
            });
            if !commented {
                problems.push(format!("line {}: unsafe without a SAFETY comment", i + 1));
            }
        }
        if is_comment(line) && line.contains("SAFETY:") {
            let mut j = i + 1;
            while j < lines.len() && is_comment(lines[j]) {
                j += 1;
            }
            if !lines[j..lines.len().min(j + 3)].iter().any(|l| has_unsafe(l)) {
                problems.push(format!("line {}: a SAFETY comment on safe code", i + 1));
            }
        }
    }
    problems
}

#[test]
fn every_unsafe_says_why_and_nothing_else_does() {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for dir in ["feth-common", "feth-ebpf", "feth-control", "feth-bench", "feth-loader", "xtask", "tests", "fuzz"] {
        rust_files(&root().join(dir), &mut files);
    }
    for file in files.iter().filter(|f| !f.ends_with("house.rs")) {
        let text = std::fs::read_to_string(file).expect("read source");
        problems.extend(safety_problems(&text).into_iter().map(|p| format!("{}: {p}", file.display())));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_safety_check_tells_both_ways() {
    assert!(safety_problems("// SAFETY: a valid fd.\nlet n = unsafe { f() };\n").is_empty());
    assert!(safety_problems("// SAFETY: why\n// more\nlet n =\n    unsafe { f() };\n").is_empty());
    assert_eq!(safety_problems("let n = unsafe { f() };\n").len(), 1);
    assert_eq!(safety_problems("// SAFETY: nothing unsafe here.\nlet n = f();\n").len(), 1);
}

#[test]
fn relative_paths_are_resolved() {
    let strings = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let from =
        CratePaths { module: strings(&["repair", "wires"]), children: ["detail".to_owned()].into(), paths: Vec::new() };
    assert_eq!(from.absolute(&strings(&["super", "run", "Run"])), Some(strings(&["repair", "run", "Run"])));
    assert_eq!(from.absolute(&strings(&["self", "x"])), Some(strings(&["repair", "wires", "x"])));
    assert_eq!(from.absolute(&strings(&["detail", "f"])), Some(strings(&["repair", "wires", "detail", "f"])));
    assert_eq!(from.absolute(&strings(&["crate", "state", "State"])), Some(strings(&["state", "State"])));
    assert_eq!(from.absolute(&strings(&["std", "fs"])), None);
}
