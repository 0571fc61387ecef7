"""The tracking widget: a public parcel lookup for publishable keys, its CORS, and the script sites paste."""
