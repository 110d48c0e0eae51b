pub fn save() {}
