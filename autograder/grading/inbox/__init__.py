"""Untrusted uploads in: find each student's notebook (folders, LMS zips), read it safely, rebuild what runs."""
