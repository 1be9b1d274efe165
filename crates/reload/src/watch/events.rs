//! Which file-system events may have changed the config's bytes.
//!
//! The directory watch sees everything that happens in the config's directory,
//! including the gateway's own reads: opening the file and closing it unwritten
//! are events too. Counting those as changes made the gateway reload itself every
//! debounce period forever after its first read of the file. Only events that can
//! change what a read returns start a reload: a new entry (an editor's temp file,
//! the kubelet's `..data_tmp` symlink), a write, a rename (rename-over saves, the
//! `..data` swap), a removal, and an overflowed event queue (anything may have
//! happened). Opens, reads, unwritten closes and metadata changes (`touch`,
//! `chmod`) never do.

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};

/// True when `event` may have changed the bytes a read of the watched path returns.
pub(crate) fn can_change_bytes(event: &notify::Event) -> bool {
    if event.need_rescan() {
        return true;
    }
    match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any) => true,
        EventKind::Modify(ModifyKind::Metadata(_) | ModifyKind::Other) => false,
        // The end of a write: some platforms report only this.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        // A backend that cannot tell what happened: assume the worst.
        EventKind::Any => true,
        EventKind::Other => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, Flag, MetadataKind, RemoveKind, RenameMode};

    fn event(kind: EventKind) -> notify::Event {
        notify::Event::new(kind)
    }

    #[test]
    fn reads_and_metadata_changes_never_trigger() {
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Access(AccessKind::Any),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::WriteTime)),
            EventKind::Other,
        ] {
            assert!(!can_change_bytes(&event(kind)), "{kind:?}");
        }
    }

    #[test]
    fn writes_renames_creates_and_removes_trigger() {
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Create(CreateKind::Any),
            EventKind::Remove(RemoveKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            EventKind::Modify(ModifyKind::Any),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Any,
        ] {
            assert!(can_change_bytes(&event(kind)), "{kind:?}");
        }
    }

    #[test]
    fn an_overflowed_queue_triggers() {
        let e = notify::Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert!(can_change_bytes(&e));
    }
}
