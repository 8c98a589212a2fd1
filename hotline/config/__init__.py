"""The province's settings (province.toml) and the generated credentials, validated on load."""
