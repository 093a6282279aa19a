"""A CI build: the pipeline of `invoke ci`, the build manifest kept in the CI folder, the builds
listing, clean-ci and the build's outcome (`summary`: what `ci --json` reports). May import
workspace/, libraries/, runs/, report/, backends/, console/ and the top-level value modules.
"""
