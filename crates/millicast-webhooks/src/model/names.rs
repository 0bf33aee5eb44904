//! Event names per hook type. Their case varies across documentation versions
//! (`viewerAttempt` vs `ViewerAttempt`), so they match case-insensitively; a name the model does
//! not know is kept as sent.

/// Declares an event-name enum that parses case-insensitively and keeps unknown names.
macro_rules! event_names {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A name this model does not know yet, as sent.
            Other(String),
        }

        impl $name {
            /// The event named `name`, in any case.
            pub fn parse(name: &str) -> Self {
                $(if name.eq_ignore_ascii_case($text) { return Self::$variant; })+
                Self::Other(name.to_owned())
            }

            /// The name as the documentation spells it (or as sent, for `Other`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(name) => name,
                }
            }

            /// The documented names.
            pub const KNOWN: &'static [&'static str] = &[$($text),+];
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": "The event's name. Its case varies across the platform's documentation versions: compare case-insensitively. Names not listed here may come.",
                    "examples": Self::KNOWN,
                })
            }
        }
    };
}

event_names!(
    /// `feeds` events.
    FeedEvent {
        /// A publisher started a feed.
        Started = "started",
        /// A feed ended.
        Ended = "ended",
    }
);
event_names!(
    /// `recordings` (older: `recording`) events.
    RecordingEvent {
        /// A recording started.
        Started = "started",
        /// A recording is complete; `data.metadata` describes it.
        Completed = "completed",
        /// A recording failed.
        Error = "error",
        /// A recording was deleted.
        Deleted = "deleted",
    }
);
event_names!(
    /// `media` events (recordings and clips).
    MediaEvent {
        /// The asset is being processed.
        Processing = "processing",
        /// The asset is ready.
        Completed = "completed",
        /// Processing failed.
        Errored = "errored",
        /// The asset was deleted.
        Deleted = "deleted",
    }
);
event_names!(
    /// `transcoder` events (upper case in every documented example).
    TranscoderEvent {
        /// The transcoder is running.
        Active = "ACTIVE",
        /// The transcoder stopped.
        Stopped = "STOPPED",
        /// The transcoder was deleted.
        Deleted = "DELETED",
    }
);
event_names!(
    /// `viewerConnection` events.
    ViewerConnectionEvent {
        /// A viewer tried to connect.
        ViewerAttempt = "ViewerAttempt",
        /// The first viewer connected.
        FirstViewerConnection = "FirstViewerConnection",
        /// The last viewer left.
        NoActiveViewers = "NoActiveViewers",
    }
);
