print("hworker-ses")
