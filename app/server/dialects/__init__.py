"""API dialects: pure translations between another API's request and answer shapes and the
gateway's one chat pipeline (:class:`~app.server.http.schemas.ChatCompletionRequest` in, OpenAI
``chat.completion`` JSON or chunk events out). No I/O here: the route modules in
``app/server/routes/`` call :func:`app.server.routes.completions.chat` between the two halves.
"""
