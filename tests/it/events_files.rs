//! `events/` is generated (`make events`), never edited by hand: fail when a committed file
//! differs from what the generator produces, or when a file is not the generator's.

use millicast_webhook_relay::events;

#[test]
fn committed_event_files_match_the_generator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let files = events::event_files();
    for file in &files {
        let committed = std::fs::read_to_string(dir.join(&file.file_name)).unwrap_or_else(|e| {
            panic!("events/{} missing ({e}): run `make events`", file.file_name)
        });
        assert!(
            committed == events::event_file_text(file),
            "events/{} differs from the generator: run `make events`",
            file.file_name
        );
    }
    let mut expected: Vec<String> = files.iter().map(|f| f.file_name.clone()).collect();
    expected.sort();
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    present.sort();
    assert_eq!(
        present, expected,
        "events/ holds files the generator does not make"
    );
}
