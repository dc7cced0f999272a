"""Recipe overrides that make the demo recipe train in seconds on the tiny dataset (CLI form)."""

FAST = [
    "--set", "data.num_frames=4",
    "--set", "teacher.epochs=3",
    "--set", "teacher.min_epochs=0",
    "--set", "teacher.video_first_epochs=0",
    # no transcript warm-up: tests that exercise it (tuned layers, then frozen and cached)
    # set it themselves
    "--set", "teacher.transcript_warmup_epochs=0",
    "--set", "teacher.transcript_tuned_layers=0",
    "--set", "teacher.batch_size=8",
    "--set", "student.epochs=1",
    "--set", "student.min_epochs=0",  # min_epochs <= epochs
    "--set", "student.batch_size=8",
]  # fmt: skip
