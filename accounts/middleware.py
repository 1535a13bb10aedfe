"""The signed-in user's own language before the browser's."""

from django.utils import translation


class UserLanguageMiddleware:
    """After ``LocaleMiddleware`` and authentication: a user who chose a language
    (``User.language``, kept by the portal's language switch) gets it on every
    device, whatever the browser asks for or the cookie says."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None else ""
        if language and user.is_authenticated:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
