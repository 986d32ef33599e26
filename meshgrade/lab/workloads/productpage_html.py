"""Page templates of the emulated productpage: the new (Istio 1.23+, Tailwind-like) and the old
(up to 1.22, Bootstrap-like) product page, the index page and a 404 page."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

STYLES = ("new", "old")

_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_STAR_PATH = "M12 2l3 6.9 7.5.7-5.7 5 1.7 7.4L12 18.2 5.5 22l1.7-7.4-5.7-5 7.5-.7z"

NEW_PAGE = _ENV.from_string("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Simple Bookstore App</title>
<link rel="stylesheet" href="static/tailwind/tailwind.css">
</head>
<body class="bg-gray-100">
<nav class="flex items-center justify-between bg-blue-900 px-6 py-3 text-white">
  <a href="#" class="text-xl font-semibold">BookInfo Sample</a>
{% if user %}
  <div class="flex items-center gap-x-4">
    <span class="font-medium">{{ user }}</span>
    <a href="logout" class="rounded bg-blue-700 px-3 py-1">Sign out</a>
  </div>
{% else %}
  <form method="post" action="login" class="flex items-center gap-x-2">
    <input type="text" name="username" placeholder="User Name" class="rounded px-2 text-black">
    <input type="password" name="passwd" placeholder="Password" class="rounded px-2 text-black">
    <button type="submit" class="rounded bg-blue-700 px-3 py-1">Sign in</button>
  </form>
{% endif %}
</nav>
<main class="mx-auto max-w-5xl px-6 py-8">
  <h1 class="text-3xl font-bold">{{ product.title }}</h1>
  <p class="mt-2 text-gray-700">{{ product.descriptionHtml | safe }}</p>
  <div class="mt-8 grid grid-cols-1 gap-8 md:grid-cols-2">
    <section class="rounded bg-white p-6 shadow">
      <h2 class="text-xl font-semibold">Book Details</h2>
{% if details %}
      <dl class="mt-4 grid grid-cols-2 gap-2">
        <dt class="font-medium">Author:</dt><dd>{{ details.author }}</dd>
        <dt class="font-medium">Type:</dt><dd>{{ details.type }}</dd>
        <dt class="font-medium">Pages:</dt><dd>{{ details.pages }}</dd>
        <dt class="font-medium">Publisher:</dt><dd>{{ details.publisher }}</dd>
        <dt class="font-medium">Language:</dt><dd>{{ details.language }}</dd>
        <dt class="font-medium">ISBN-10:</dt><dd>{{ details["ISBN-10"] }}</dd>
        <dt class="font-medium">ISBN-13:</dt><dd>{{ details["ISBN-13"] }}</dd>
      </dl>
{% else %}
      <h3 class="mt-4 font-semibold text-red-500">Error fetching product details</h3>
      <p>Sorry, product details are currently unavailable for this book.</p>
{% endif %}
    </section>
    <section class="rounded bg-white p-6 shadow">
      <h2 class="text-xl font-semibold">Book Reviews</h2>
{% if reviews %}
      <p class="text-sm text-gray-500">Reviews served by: <u>{{ reviews.podname }}</u></p>
{% for review in reviews.reviews %}
      <blockquote class="mt-4 border-l-4 border-gray-300 pl-4">
        <p>{{ review.text }}</p>
        <small class="text-gray-600">{{ review.reviewer }}</small>
{% if review.rating and review.rating.stars is defined %}
        <div class="flex gap-x-1 text-{{ review.rating.color }}-500">
{% for _ in range(review.rating.stars) %}
          <svg id="glyphicon glyphicon-star" class="h-5 w-5" viewBox="0 0 24 24"
               fill="currentColor"><path d="{{ star }}"/></svg>
{% endfor %}
{% for _ in range(5 - review.rating.stars) %}
          <svg id="glyphicon glyphicon-star-empty" class="h-5 w-5" viewBox="0 0 24 24"
               fill="none" stroke="currentColor"><path d="{{ star }}"/></svg>
{% endfor %}
        </div>
{% elif review.rating and review.rating.error %}
        <p class="text-red-500">{{ review.rating.error }}</p>
{% endif %}
      </blockquote>
{% endfor %}
      <p class="mt-6 text-sm text-gray-500">Reviews served by: <u>{{ reviews.podname }}</u></p>
{% else %}
      <h3 class="mt-4 font-semibold text-red-500">Error fetching product reviews</h3>
      <p>Sorry, product reviews are currently unavailable for this book.</p>
{% endif %}
    </section>
  </div>
</main>
</body>
</html>
""")

OLD_PAGE = _ENV.from_string("""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Simple Bookstore App</title>
<link rel="stylesheet" href="static/bootstrap/css/bootstrap.min.css">
</head>
<body>
<nav class="navbar navbar-inverse navbar-static-top">
  <div class="container">
    <a class="navbar-brand" href="#">BookInfo Sample</a>
{% if user %}
    <p class="navbar-text navbar-right"><i class="glyphicon glyphicon-user"></i> {{ user }}
      <a href="logout" class="navbar-link">Sign out</a></p>
{% else %}
    <form class="navbar-form navbar-right" method="post" action="login">
      <input type="text" class="form-control" name="username" placeholder="User Name">
      <input type="password" class="form-control" name="passwd" placeholder="Password">
      <button type="submit" class="btn btn-default">Sign in</button>
    </form>
{% endif %}
  </div>
</nav>
<div class="container-fluid">
  <div class="row">
    <div class="col-md-12">
      <h3 class="text-center text-primary">{{ product.title }}</h3>
      <p>Summary: {{ product.descriptionHtml | safe }}</p>
    </div>
  </div>
  <div class="row">
    <div class="col-md-6">
{% if details %}
      <h4 class="text-center text-primary">Book Details</h4>
      <dl>
        <dt>Author:</dt><dd>{{ details.author }}</dd>
        <dt>Type:</dt><dd>{{ details.type }}</dd>
        <dt>Pages:</dt><dd>{{ details.pages }}</dd>
        <dt>Publisher:</dt><dd>{{ details.publisher }}</dd>
        <dt>Language:</dt><dd>{{ details.language }}</dd>
        <dt>ISBN-10:</dt><dd>{{ details["ISBN-10"] }}</dd>
        <dt>ISBN-13:</dt><dd>{{ details["ISBN-13"] }}</dd>
      </dl>
{% else %}
      <h4 class="text-center text-primary">Error fetching product details!</h4>
      <p>Sorry, product details are currently unavailable for this book.</p>
{% endif %}
    </div>
    <div class="col-md-6">
{% if reviews %}
      <h4 class="text-center text-primary">Book Reviews</h4>
{% for review in reviews.reviews %}
      <blockquote>
        <p>{{ review.text }}</p>
        <small>{{ review.reviewer }}</small>
{% if review.rating and review.rating.stars is defined %}
        <font color="{{ review.rating.color }}">
{% for _ in range(review.rating.stars) %}
          <span class="glyphicon glyphicon-star"></span>
{% endfor %}
{% for _ in range(5 - review.rating.stars) %}
          <span class="glyphicon glyphicon-star-empty"></span>
{% endfor %}
        </font>
{% elif review.rating and review.rating.error %}
        <p><i>{{ review.rating.error }}</i></p>
{% endif %}
      </blockquote>
{% endfor %}
      <dl><dt>Reviews served by:</dt><u>{{ reviews.podname }}</u></dl>
{% else %}
      <h4 class="text-center text-primary">Error fetching product reviews!</h4>
      <p>Sorry, product reviews are currently unavailable for this book.</p>
{% endif %}
    </div>
  </div>
</div>
</body>
</html>
""")

INDEX_PAGE = _ENV.from_string("""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Simple Bookstore App</title></head>
<body>
<h1>Simple Bookstore App</h1>
<p>A small bookstore made of four services: productpage, details, reviews and ratings.</p>
<p>Open the <a href="productpage">product page</a> to see a book, its details and reviews.</p>
</body>
</html>
""")

NOT_FOUND_PAGE = _ENV.from_string("""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>404 Not Found</title></head>
<body><h1>Not Found</h1><p>The requested URL {{ path }} was not found on this server.</p></body>
</html>
""")


def render_product_page(style: str, product: dict[str, Any], details: dict[str, Any] | None,
                        reviews: dict[str, Any] | None, user: str | None) -> str:
    """The product page; ``details``/``reviews`` None render the error texts."""
    if style not in STYLES:
        raise ValueError(f"page style must be one of {STYLES}, not {style!r}")
    template = NEW_PAGE if style == "new" else OLD_PAGE
    return template.render(product=product, details=details, reviews=reviews, user=user,
                           star=_STAR_PATH)


def render_index() -> str:
    return INDEX_PAGE.render()


def render_not_found(path: str) -> str:
    return NOT_FOUND_PAGE.render(path=path)
