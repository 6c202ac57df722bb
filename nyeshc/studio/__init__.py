"""The studio: ``nyeshc studio FILM`` — a local web page that shows the film while it is written.

A client of :mod:`nyeshc.pipeline`, like the language server: :mod:`nyeshc.studio.session`
watches the script and its includes, checks on every save and renders a preview-size build
through the cache; :mod:`nyeshc.studio.server` serves the page (plain HTML/JS/CSS in
``static/``, no build step), the preview, the timeline picture and server-sent events, to
127.0.0.1 only. See ``docs/studio.md``.
"""
