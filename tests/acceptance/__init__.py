"""The acceptance suite: user stories, run for every backend x database."""
