"""The submission: its files, how they are read (folder, git, pinned commit) and the
objects they hold."""
