"""The rewrite engine: reference grammar -> compose -> document walk -> rules -> splice -> stream.

Pure text in, text out; it imports nothing of the project but itself, `errors` and `settings`
(`imageref`, the reference grammar, not even those: `settings` checks hosts with it), and no
`__init__` re-exports, so the post-renderer loads only the modules it uses.
"""
