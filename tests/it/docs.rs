//! The documentation says only what exists: every relative link (and `#anchor`) of the README,
//! `docs/` and the other READMEs resolves, every `relayctl …` command they show is a real
//! subcommand whose flags its `--help` lists, and every `make …` target is in the Makefile.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown a user reads: README.md, docs/*.md, and the READMEs of crates/ and consumers/.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut files = vec![root.join("README.md")];
    for dir in ["docs", "consumers", "crates"] {
        let mut stack = vec![root.join(dir)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                if path.is_dir() && name != "node_modules" && name != "target" {
                    stack.push(path);
                } else if name.ends_with(".md") && (dir.ends_with("docs") || name == "README.md") {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation other than `-`/`_`
/// dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Each line with whether it is inside a fenced code block (fence lines themselves skipped).
fn lines_with_code(markdown: &str) -> Vec<(&str, bool)> {
    let mut in_code = false;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else {
            lines.push((line, in_code));
        }
    }
    lines
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    lines_with_code(markdown)
        .into_iter()
        .filter(|(_, in_code)| !in_code)
        .filter_map(|(line, _)| line.strip_prefix('#'))
        .map(|line| slug(line.trim_start_matches('#')))
        .collect()
}

/// `[text](target)` targets outside code.
fn links(markdown: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (line, _) in lines_with_code(markdown)
        .into_iter()
        .filter(|(_, code)| !code)
    {
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            found.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    let documents = documents();
    assert!(documents.len() >= 3, "{documents:?}");
    for document in &documents {
        let text = std::fs::read_to_string(document).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                document.clone()
            } else {
                document.parent().unwrap().join(path)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", document.display()));
                continue;
            }
            if !anchor.is_empty() && target.extension().is_some_and(|e| e == "md") {
                let headings = anchors(&std::fs::read_to_string(&target).unwrap());
                if !headings.contains(anchor) {
                    broken.push(format!("{}: {link} (no such heading)", document.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The commands a document shows: each code span, and each line of a code block, split at
/// `&&`, `|`, `;` and `$(` — the pieces that start with a program name (a leading `$ ` prompt
/// dropped; output lines such as `== …` start with none).
fn shown_commands(markdown: &str) -> Vec<String> {
    let mut snippets = Vec::new();
    for (line, in_code) in lines_with_code(markdown) {
        if in_code {
            snippets.push(line.to_owned());
        } else {
            snippets.extend(line.split('`').skip(1).step_by(2).map(str::to_owned));
        }
    }
    snippets
        .iter()
        .flat_map(|snippet| {
            snippet
                .split("&&")
                .flat_map(|part| part.split(['|', ';']))
                .flat_map(|part| part.split("$("))
                .map(|part| {
                    let part = part.trim();
                    part.strip_prefix("$ ").unwrap_or(part).to_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every `relayctl …` command shown: its subcommand words and the flags it uses.
fn relayctl_commands(markdown: &str) -> Vec<(Vec<String>, Vec<String>)> {
    shown_commands(markdown)
        .iter()
        .filter_map(|command| {
            let rest = command
                .strip_prefix("relayctl ")
                .or_else(|| command.strip_prefix("target/debug/relayctl "))?;
            let mut words: Vec<&str> = rest
                .split(|c: char| c.is_whitespace() || c == ')')
                .filter(|w| !w.is_empty())
                .take_while(|w| !w.starts_with('#'))
                .collect();
            // Global flags before the subcommand (`relayctl --profile P --region R tail`):
            // checked as flags of the subcommand, whose --help lists them too.
            let mut global = Vec::new();
            while let Some(first) = words.first().copied() {
                let takes_value = matches!(first, "--profile" | "--region");
                if !(takes_value || matches!(first, "-v" | "--verbose")) {
                    break;
                }
                global.push(first);
                words.drain(..if takes_value { 2.min(words.len()) } else { 1 });
            }
            words.extend(global);
            let subcommand: Vec<String> = words
                .iter()
                .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
                .take_while(|w| !w.starts_with('-'))
                .map(|w| w.to_string())
                .collect();
            let flags: Vec<String> = words
                .iter()
                .filter(|w| w.starts_with("--"))
                .map(|w| {
                    w.split('=')
                        .next()
                        .unwrap_or(w)
                        .trim_end_matches(',')
                        .to_owned()
                })
                .filter(|w| {
                    w.len() > 2
                        && w.chars()
                            .skip(2)
                            .all(|c| c.is_ascii_lowercase() || c == '-')
                })
                .collect();
            (!subcommand.is_empty()).then_some((subcommand, flags))
        })
        .collect()
}

#[test]
fn every_relayctl_command_shown_exists_with_its_flags() {
    let mut checked = BTreeSet::new();
    let mut wrong = Vec::new();
    for document in documents() {
        let text = std::fs::read_to_string(&document).unwrap();
        for (subcommand, flags) in relayctl_commands(&text) {
            if !checked.insert((subcommand.clone(), flags.clone())) {
                continue;
            }
            let output = Command::new(env!("CARGO_BIN_EXE_relayctl"))
                .args(&subcommand)
                .arg("--help")
                .output()
                .unwrap();
            let help = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() {
                wrong.push(format!(
                    "{}: relayctl {} is not a command",
                    document.display(),
                    subcommand.join(" ")
                ));
                continue;
            }
            for flag in flags {
                let listed = help
                    .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
                    .any(|word| word == flag || word.starts_with(&format!("{flag}=")));
                if !listed && flag != "--help" {
                    wrong.push(format!(
                        "{}: relayctl {} has no {flag}",
                        document.display(),
                        subcommand.join(" ")
                    ));
                }
            }
        }
    }
    assert!(checked.len() >= 5, "found only {checked:?}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_make_target_shown_is_in_the_makefile() {
    let makefile = std::fs::read_to_string(root().join("Makefile")).unwrap();
    let targets: BTreeSet<&str> = makefile
        .lines()
        .filter(|line| !line.starts_with('\t') && !line.starts_with('#'))
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, rest)| !name.contains('=') && !rest.starts_with('='))
        .flat_map(|(names, _)| names.split_whitespace())
        .collect();
    let mut wrong = Vec::new();
    for document in documents() {
        let text = std::fs::read_to_string(&document).unwrap();
        for command in shown_commands(&text) {
            let Some(rest) = command.strip_prefix("make ") else {
                continue;
            };
            let words = rest
                .split_whitespace()
                .take_while(|w| !w.contains('=') && !w.starts_with('#'));
            for target in words {
                let target = target.trim_end_matches([')', ',']);
                if !targets.contains(target) {
                    wrong.push(format!("{}: make {target}", document.display()));
                }
            }
        }
    }
    let wrong: BTreeSet<String> = wrong.into_iter().collect();
    assert!(
        wrong.is_empty(),
        "not Makefile targets:\n{}",
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_checks_catch_what_they_look_for() {
    // The controls: a broken link, an unknown subcommand and flag are found by the parsers.
    assert_eq!(
        links("see [x](docs/nope.md#a) and `[y](z)`"),
        ["docs/nope.md#a", "z"]
    );
    let commands = relayctl_commands(
        "run `relayctl quarantine replay --stack S --since 5` then `relayctl-probe-x`\n```\n\
         == relayctl rotate while\n$ make run && relayctl tail --json | head\n```",
    );
    assert_eq!(
        commands,
        [
            (
                vec!["quarantine".to_owned(), "replay".to_owned()],
                vec!["--stack".to_owned(), "--since".to_owned()]
            ),
            (vec!["tail".to_owned()], vec!["--json".to_owned()])
        ]
    );
    // Global flags before the subcommand are skipped to find it, and checked as its flags.
    assert_eq!(
        relayctl_commands("`relayctl --profile p --region r -v dead-letters move-back --wait`"),
        [(
            vec!["dead-letters".to_owned(), "move-back".to_owned()],
            vec![
                "--wait".to_owned(),
                "--profile".to_owned(),
                "--region".to_owned()
            ]
        )]
    );
    assert!(shown_commands("```\nmake test lint\n```").contains(&"make test lint".to_owned()));
    assert_eq!(
        slug("Several webhooks, one relay"),
        "several-webhooks-one-relay"
    );
    assert!(Path::new(env!("CARGO_BIN_EXE_relayctl")).exists());
    let unknown = Command::new(env!("CARGO_BIN_EXE_relayctl"))
        .args(["no-such-command", "--help"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}

/// The files git tracks that a reader reads as text (sources, scripts, docs, the template).
fn tracked_text_files() -> Vec<PathBuf> {
    let output = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root())
        .output()
        .expect("git ls-files");
    assert!(output.status.success(), "git ls-files failed");
    const TEXT: [&str; 14] = [
        "rs", "md", "py", "sh", "mjs", "js", "toml", "yaml", "yml", "txt", "in", "json", "html",
        "css",
    ];
    output
        .stdout
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| root().join(String::from_utf8_lossy(name).as_ref()))
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let extension = path.extension().unwrap_or_default().to_string_lossy();
            (TEXT.contains(&extension.as_ref()) || name == "Makefile" || name == "run")
                && !name.ends_with("-lock.json")
                && !name.ends_with(".lock")
        })
        .collect()
}

/// The repository paths a text names: tokens that start with one of the repository's top
/// folders and end in a file name with an extension (`src/relay/handler.rs`, `docs/deploy.md`).
/// Placeholders and globs (`{`, `*`, `<`) are not paths.
fn named_paths(text: &str) -> Vec<String> {
    const FOLDERS: [&str; 13] = [
        "src/",
        "tests/",
        "docs/",
        "scripts/",
        "crates/",
        "contract/",
        "events/",
        "consumers/",
        "examples/",
        "benches/",
        "fuzz/",
        "samples/",
        ".ci/",
    ];
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-');
    let mut found = Vec::new();
    for (start, _) in text.char_indices() {
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| is_path_char(c) || c == '$' || c == '{' || c == '~') {
            continue;
        }
        let rest = &text[start..];
        if !FOLDERS.iter().any(|folder| rest.starts_with(folder)) {
            continue;
        }
        let end = rest.find(|c: char| !is_path_char(c)).unwrap_or(rest.len());
        if rest[end..].starts_with(['{', '*', '<']) {
            continue;
        }
        let token = rest[..end].trim_end_matches(['.', '-', '/']);
        let file = token.rsplit('/').next().unwrap_or_default();
        // `events/oversize/` is a prefix in the bucket, not the repository's events/ folder.
        let in_bucket = token.starts_with("events/oversize/");
        if file.contains('.') && !file.starts_with('.') && !in_bucket {
            found.push(token.to_owned());
        }
    }
    found
}

/// Where a path named in `file` may be relative to: the repository, the file's own folder, or
/// the nearest folder above it with its own manifest (a crate or a Node package).
fn resolves(file: &Path, named: &str) -> bool {
    let root = root();
    if root.join(named).exists() {
        return true;
    }
    let mut dir = file.parent();
    while let Some(current) = dir {
        if !current.starts_with(&root) || current == root {
            break;
        }
        let is_package =
            current.join("Cargo.toml").exists() || current.join("package.json").exists();
        if current.join(named).exists() && (is_package || Some(current) == file.parent()) {
            return true;
        }
        dir = current.parent();
    }
    false
}

/// The notes the project started from live outside the repository; nothing may send a reader there.
fn outside_references() -> Vec<String> {
    let mut names: Vec<String> = ["DESIGN", "MILLICAST", "TOOLING"]
        .iter()
        .map(|name| format!("{name}.md"))
        .collect();
    names.push(format!("..{}shared", '/'));
    names
}

#[test]
fn every_file_the_repository_names_is_in_it() {
    let files = tracked_text_files();
    assert!(files.len() > 50, "found only {} files", files.len());
    let outside = outside_references();
    let mut wrong = BTreeSet::new();
    // This file holds the check's own controls (paths that must not resolve).
    let this_file = root().join(file!());
    for file in files.iter().filter(|file| **file != this_file) {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let shown = file
            .strip_prefix(root())
            .unwrap_or(file)
            .display()
            .to_string();
        for name in &outside {
            if text.contains(name.as_str()) {
                wrong.insert(format!(
                    "{shown}: names {name}, which is not in the repository"
                ));
            }
        }
        for named in named_paths(&text) {
            if !resolves(file, &named) {
                wrong.insert(format!("{shown}: {named} does not exist"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "references to files that are not in the repository:\n{}",
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_reference_check_finds_paths_and_skips_placeholders() {
    assert_eq!(
        named_paths(
            "see src/aws.rs, `docs/deploy.md#prerequisites` and (tests/it/main.rs); \
             not thumbnails/{account}/x.jpg, src/relay/ nor undelivered/2021/a.json \
             nor my-src/x.rs nor $HOME/docs/x.md nor docs/*.md nor src/<x>.rs \
             nor events/oversize/ab.json"
        ),
        ["src/aws.rs", "docs/deploy.md", "tests/it/main.rs"]
    );
    let here = root().join("tests/it/docs.rs");
    assert!(resolves(&here, "tests/it/main.rs"));
    assert!(!resolves(&here, "src/aws.rs"));
    // Relative to a crate of the workspace.
    assert!(resolves(
        &root().join("crates/millicast-webhooks/README.md"),
        "src/signature.rs"
    ));
    assert!(outside_references().iter().all(|name| !name.is_empty()));
    assert!(
        tracked_text_files().contains(&root().join(file!())),
        "file!() names this file from the repository's root"
    );
}
